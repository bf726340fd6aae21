"""Architecture -> the real Hugging Face config of its family (for ``--measure``; transformers imported lazily).

``--measure`` builds the family's real transformers class (``Family.hf_class`` in ``llmspec.spec.families``) from
that family's own config fields, never a stand-in. The config is written from the spec's Architecture with the
registry's key names and then read back with the importer (``llmspec.spec.hf_import``): only a config that
imports to exactly the spec's architecture is used, so a family that cannot express the architecture is an
UnsupportedArchitecture naming what differs, not a silently different model. A spec with ``model.hf_config``
uses that config.json as it is. Without ``model.family`` the first registry family that expresses the
architecture exactly is taken (the registry's order). The per-family keys are the registry's declarations
(``llmspec.spec.family_types``), inverted here generically, plus the entry's own export hook: this module names no
family.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmspec.spec.families import FAMILIES, Family
from llmspec.spec.family_types import AllOf, MoeKeys, Switch, WindowKeys
from llmspec.spec.hf_import import _GATED_ACT, _PLAIN_ACT, HFConfigError, architecture_from_hf
from llmspec.spec.models import Architecture, Spec


class UnsupportedArchitecture(ValueError):
    pass


def family_config(fam: Family, a: Architecture) -> dict[str, Any]:
    """A config.json dict of family ``fam`` for architecture ``a`` (not yet checked: see config_for)."""
    def key(canonical: str) -> str:
        return fam.aliases.get(canonical, canonical)

    acts = _GATED_ACT if fam.gated else _PLAIN_ACT
    default_act = str(fam.defaults.get(key("hidden_act"), ""))
    act = default_act if acts.get(default_act) == a.activation else next(
        (name for name, ours in acts.items() if ours == a.activation), a.activation)
    cfg: dict[str, Any] = {
        "model_type": fam.model_type, key("hidden_size"): a.d_model, key("num_hidden_layers"): a.n_layers,
        key("num_attention_heads"): a.n_heads, key("num_key_value_heads"): a.kv_heads,
        key("intermediate_size"): a.ffn_dim, "vocab_size": a.vocab_size,
        key("max_position_embeddings"): a.context_length, "tie_word_embeddings": a.tie_embeddings,
        key("hidden_act"): act, "use_cache": False,
        "pad_token_id": None,  # Phi-3's default 32000 is outside a smaller vocabulary; no memory depends on it
    }
    if a.head_dim is not None or fam.defaults.get("head_dim") not in ("", None):
        cfg["head_dim"] = a.head_size
    for field, rule in fam.arch.items():
        _write_field(cfg, rule, getattr(a, field))
    for cfg_key, (canonical, _) in fam.same_as.items():
        cfg[cfg_key] = cfg[key(canonical)]
    if fam.moe is not None:
        _write_moe(cfg, fam.moe, a, key("intermediate_size"))
    if fam.export_hook is not None:
        fam.export_hook(a, cfg)
    if fam.window is not None:
        _write_window(cfg, fam.window, a)
    cfg.update(fam.config_overrides)
    return cfg


def _write_field(cfg: dict[str, Any], rule: Any, value: Any) -> None:
    """The config keys that make the importer read ``value`` through the registry rule (literals and Offset
    fields write nothing: the round trip in _differences checks them)."""
    if isinstance(rule, str) and rule.startswith("$"):
        cfg[rule[1:]] = value
    elif isinstance(rule, Switch):
        for config_value, ours in rule.table.items():
            if ours == value:
                cfg[rule.key] = config_value
                break
    elif isinstance(rule, AllOf):
        items = list(rule.keys.items())
        cfg.update(rule.keys)
        if not value and items:
            cfg[items[0][0]] = not items[0][1]


def _write_window(cfg: dict[str, Any], keys: WindowKeys, a: Architecture) -> None:
    """The inverse of hf_import._window: no window is null (or the switch off); a class that always windows every
    other block (Gemma 2) gets a window as long as the context, which hides no key within it."""
    on = a.sliding_window is not None
    if keys.enabled is not None:
        cfg[keys.enabled] = on
    cfg[keys.key] = a.sliding_window if on or not keys.every_other else a.context_length
    if keys.first_layer is not None:
        cfg[keys.first_layer] = a.n_layers - a.window_layers


def _write_moe(cfg: dict[str, Any], keys: MoeKeys, a: Architecture, width_key: str) -> None:
    m = a.moe
    if m is None:
        if keys.sparse_layers is not None:  # zero experts: every block dense
            cfg[keys.n_experts] = 0
        return
    f_e = m.expert_ffn_dim or a.ffn_dim
    cfg.update({keys.n_experts: m.n_experts, keys.experts_per_token: m.experts_per_token,
                keys.expert_ffn_dim or width_key: f_e})
    if keys.sparse_layers is not None:
        list_key, step_key = keys.sparse_layers
        cfg.update({list_key: list(range(m.dense_layers)), step_key: 1})
    if keys.shared_expert_ffn_dim is not None:
        cfg[keys.shared_expert_ffn_dim] = (m.shared_expert_ffn_dim or f_e) if m.shared_experts else 0


def _normalised(a: Architecture) -> dict:
    """Field values with the derived defaults written out (head_dim, key/value heads, learned positions, expert
    widths)."""
    d = a.model_dump()
    d["head_dim"] = a.head_size
    d["n_kv_heads"] = a.kv_heads  # unset means one per query head, which is what a config without the key builds
    d["sliding_window_layers"] = a.window_layers
    if a.sliding_window is not None and a.sliding_window >= a.context_length:  # hides no key (hf_import._window)
        d["sliding_window"], d["sliding_window_layers"], d["sliding_window_alternate"] = None, 0, False
    if a.position == "learned":
        d["learned_positions"] = a.learned_positions or a.context_length
    if a.moe is not None:
        f_e = a.moe.expert_ffn_dim or a.ffn_dim
        d["moe"]["expert_ffn_dim"] = f_e
        if not a.moe.dense_layers:
            d["ffn_dim"] = None  # no dense MLP uses it
        if a.moe.shared_experts:
            d["moe"]["shared_expert_ffn_dim"] = a.moe.shared_expert_ffn_dim or f_e
    return d


def _differences(fam: Family, a: Architecture) -> tuple[dict[str, Any] | None, str]:
    """(config, "") when ``fam`` expresses ``a`` exactly, else (None, what differs)."""
    cfg = family_config(fam, a)
    try:
        _, back = architecture_from_hf(cfg)
    except HFConfigError as exc:
        return None, str(exc)
    want, got = _normalised(a), _normalised(Architecture(**back))
    diff = [f"{k} = {want[k]!r} (the {fam.model_type} class builds {got[k]!r})" for k in want if want[k] != got[k]]
    return (cfg, "") if not diff else (None, ", ".join(diff))


def config_for(spec: Spec) -> dict[str, Any]:
    """A config.json-style dict of the spec's family for the spec's architecture."""
    if spec.model.hf_config and spec.source is not None and getattr(spec.source, "path", None):
        path = Path(spec.source.path).parent / spec.model.hf_config
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    a, family = spec.arch, spec.model.family
    if family is not None and family not in FAMILIES:
        raise UnsupportedArchitecture(f"model.family {family!r} is not in the family registry "
                                      f"({', '.join(FAMILIES)}); set model.hf_config to the model's config.json")
    why = ""
    for fam in [FAMILIES[family]] if family else FAMILIES.values():
        cfg, why = _differences(fam, a)
        if cfg is not None:
            return cfg
    if family:
        raise UnsupportedArchitecture(f"the real {FAMILIES[family].hf_class} cannot build this architecture: {why}; "
                                      "fix the architecture or set model.hf_config to the model's config.json")
    raise UnsupportedArchitecture("no family in the registry builds exactly this architecture; set model.family "
                                  "or model.hf_config to the model's config.json")


config_dict = config_for  # the name before the family registry


def hf_config(spec: Spec, attn_implementation: str = "sdpa", dropout: float | None = None):
    """A transformers PretrainedConfig of the spec's real family class. ``dropout`` (training.dropout) is written
    to the family's hidden-state dropout keys (the registry's ``dropout_keys``); the real class's defaults (GPT-2
    and OPT: 0.1) do not leak into a spec that says otherwise. Attention-probability dropout is set to 0: on CUDA
    the fused attention kernels (flash, memory-efficient) apply it inside the kernel and save no probabilities,
    while CPU sdpa with dropout_p > 0 falls back to the math kernel and materialises them (measured: ~25 B per
    head x key per token), which a GPU run does not."""
    from transformers import AutoConfig

    raw = dict(config_for(spec))
    model_type = raw.pop("model_type")
    raw.pop("architectures", None)
    raw.pop("quantization_config", None)
    raw["use_cache"] = False
    fam = FAMILIES.get(model_type)
    if dropout is not None and fam is not None:
        raw.update({k: dropout for k in fam.dropout_keys})
        raw.update({k: 0.0 for k in fam.attention_dropout_keys})
    cfg = AutoConfig.for_model(model_type, **raw)
    cfg._attn_implementation = attn_implementation
    return cfg
