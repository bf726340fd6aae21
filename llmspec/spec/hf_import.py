"""Import a Hugging Face ``config.json`` as an llmspec architecture.

``architecture_from_hf(config) -> (family, architecture dict)``. The dict uses the field names of
:class:`llmspec.spec.models.Architecture` and is validated against it. Per-family facts (defaults that
transformers fills in when a key is missing, key aliases, biases and norms that the modelling code fixes) are
the family registry's (``llmspec.spec.families``), declared there in the vocabulary of ``llmspec.spec.family_types``
and read here generically: this module names no family. Every fact is taken from transformers 5.24
``models/<family>/{configuration,modeling}_<family>.py``.

This module does not import transformers: the lint path reads specs with ``hf_config`` too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmspec.spec.families import FAMILIES, Family
from llmspec.spec.family_types import AllOf, MoeKeys, Offset, Switch, WindowKeys
from llmspec.spec.models import Architecture

# hidden_act -> Architecture.activation, for gated MLPs (gate, up, down) and plain ones (fc1, fc2).
_GATED_ACT = {"silu": "swiglu", "swish": "swiglu", "gelu": "geglu", "gelu_new": "geglu",
              "gelu_pytorch_tanh": "geglu", "gelu_fast": "geglu", "relu": "reglu"}
_PLAIN_ACT = {"gelu": "gelu", "gelu_new": "gelu_new", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
              "relu": "relu", "silu": "silu", "swish": "silu"}


class HFConfigError(ValueError):
    """A config.json that cannot be imported: unknown model_type, a missing key, or a value the spec cannot express."""


def families() -> dict[str, Family]:
    """The family registry (model_type -> Family), llmspec.spec.families.FAMILIES."""
    return FAMILIES


def supported_model_types() -> list[str]:
    return sorted(FAMILIES)


class _Reader:
    """Reads config keys the way transformers does: the key, else its family alias, else the class default."""

    def __init__(self, family: str, config: dict[str, Any]):
        self.family = family
        self.config = config
        entry = FAMILIES[family]
        self.defaults: Mapping[str, Any] = entry.defaults
        self.aliases: Mapping[str, str] = entry.aliases
        self.legacy: Mapping[str, str] = entry.legacy_aliases

    def get(self, key: str, *, required: bool = True) -> Any:
        names = [n for n in (key, self.aliases.get(key), self.legacy.get(key)) if n is not None]
        for name in names:
            if name in self.config and self.config[name] is not None:
                return self.config[name]
        for name in names:
            if name in self.defaults:
                value = self.defaults[name]
                return None if value == "" else value
        if required:
            raise HFConfigError(f"config.json has no {key!r}, and model_type {self.family!r} has no default for it")
        return None

    def count(self, key: str) -> int:
        """A required integer: int() with required=True, which still gives None for a class default of "".
        (Defined before int(), whose name would shadow the builtin in this annotation.)"""
        value = self.int(key)
        if value is None:
            raise HFConfigError(f"config.json has no {key!r}, and model_type {self.family!r} has no default for it")
        return value

    def int(self, key: str, *, required: bool = True) -> int | None:
        value = self.get(key, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise HFConfigError(f"config.json {key!r} must be an integer, got {value!r}")
        return value

    def bool(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise HFConfigError(f"config.json {key!r} must be true or false, got {value!r}")
        return value


def architecture_from_hf(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(family, architecture dict) for a parsed Hugging Face config.json.

    Raises HFConfigError for an unknown model_type or a config the spec cannot express.
    """
    if not isinstance(config, dict):
        raise HFConfigError("config.json must hold a JSON object")
    family = config.get("model_type")
    if family not in FAMILIES:
        raise HFConfigError(
            f"unsupported model_type {family!r}; supported: {', '.join(supported_model_types())}"
        )
    r = _Reader(family, config)
    entry = FAMILIES[family]

    n_heads = r.count("num_attention_heads")
    d_model = r.count("hidden_size")
    arch: dict[str, Any] = {
        "n_layers": r.int("num_hidden_layers"),
        "d_model": d_model,
        "n_heads": n_heads,
        "n_kv_heads": r.int("num_key_value_heads", required=False) or n_heads,
        "ffn_dim": r.int("intermediate_size", required=False) or 4 * d_model,
        "activation": _activation(r, entry.gated),
        "vocab_size": r.int("vocab_size"),
        "context_length": r.int("max_position_embeddings"),
        "tie_embeddings": r.bool("tie_word_embeddings"),
        "norm": "layernorm",
        "norms_per_layer": 2,
        "final_norm": True,
        "qk_norm": False,
        "qkv_bias": False,
        "attn_out_bias": False,
        "mlp_bias": False,
        "position": "rope",
        "parallel_attention": False,
    }
    head_dim = r.int("head_dim", required=False) if entry.reads_head_dim else None
    if head_dim is not None and head_dim * n_heads != d_model:
        arch["head_dim"] = head_dim
    _check_expressible(r, entry)
    for field, rule in entry.arch.items():
        arch[field] = _field(r, rule, arch)
    if entry.moe is not None:
        _moe(r, entry.moe, arch)
    if entry.window is not None:
        _window(r, entry.window, arch)
    if entry.import_hook is not None:
        entry.import_hook(r, arch)
    return family, _validated(arch)


def _field(r: _Reader, rule: Any, arch: dict[str, Any]) -> Any:
    """The value of one registry arch rule (llmspec.spec.family_types.ArchRule) for this config."""
    if isinstance(rule, str) and rule.startswith("$"):
        return r.bool(rule[1:])
    if isinstance(rule, Switch):
        value = r.get(rule.key)
        if value not in rule.table:
            raise HFConfigError(f"config.json {rule.key!r} = {value!r} has no llmspec equivalent; "
                                f"known: {', '.join(map(repr, rule.table))}")
        return rule.table[value]
    if isinstance(rule, AllOf):
        return all(r.get(key) == want for key, want in rule.keys.items())
    if isinstance(rule, Offset):
        return arch[rule.source] + rule.by
    return rule


def _check_expressible(r: _Reader, entry: Family) -> None:
    for key, (value, what) in entry.reject.items():
        if r.get(key, required=False) == value:
            raise HFConfigError(f"{what} cannot be expressed in a spec")
    for key, (canonical, what) in entry.same_as.items():
        got, want = r.int(key, required=False), r.int(canonical)
        if got is not None and got != want:
            raise HFConfigError(f"model_type {r.family!r}: {key} ({got}) differs from {canonical} ({want}): {what} "
                                "cannot be expressed in a spec")


def _moe(r: _Reader, keys: MoeKeys, arch: dict[str, Any]) -> None:
    """The registry's MoE keys -> architecture.moe (none when every block is dense)."""
    dense = 0 if keys.sparse_layers is None else _dense_layer_count(r, keys, arch["n_layers"])
    if dense == arch["n_layers"]:  # no sparse block at all: a dense model with MLPs of intermediate_size
        return
    moe: dict[str, Any] = {"n_experts": r.int(keys.n_experts), "experts_per_token": r.int(keys.experts_per_token)}
    if keys.expert_ffn_dim is not None:
        moe["expert_ffn_dim"] = r.int(keys.expert_ffn_dim)
    if dense:
        moe["dense_layers"] = dense
    if keys.shared_expert_ffn_dim is not None:
        shared = r.int(keys.shared_expert_ffn_dim)
        if not shared and keys.shared_expert_gate:  # the class still builds the gate (hidden -> 1) around nothing
            raise HFConfigError(f"{keys.shared_expert_ffn_dim} = 0 (a shared-expert gate without a shared expert) "
                                "cannot be expressed in a spec")
        if shared:
            moe.update(shared_experts=1, shared_expert_ffn_dim=shared, shared_expert_gate=keys.shared_expert_gate)
    arch["moe"] = moe


def _window(r: _Reader, keys: WindowKeys, arch: dict[str, Any]) -> None:
    """The registry's sliding-window keys -> architecture.sliding_window (and sliding_window_layers when not every
    block has it). A window at least context_length long never hides a key within the context: full attention."""
    if keys.enabled is not None and not r.get(keys.enabled, required=False):
        return
    window = r.int(keys.key, required=False)
    if not window or window >= arch["context_length"]:
        return
    n = arch["n_layers"]
    if keys.every_other:
        layers = (n + 1) // 2
    elif keys.first_layer is not None:
        layers = max(0, n - r.count(keys.first_layer))
    else:
        layers = n
    if layers:
        arch["sliding_window"] = window
        if layers != n:
            arch["sliding_window_layers"] = layers


def architecture_from_file(path: str | Path) -> tuple[str, dict[str, Any]]:
    """architecture_from_hf on a config.json file; HFConfigError when it cannot be read (the message does not
    repeat the path)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise HFConfigError(f"cannot read: {exc.strerror or exc}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HFConfigError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return architecture_from_hf(config)


def _activation(r: _Reader, gated: bool) -> str:
    act = r.get("hidden_act")
    mapping = _GATED_ACT if gated else _PLAIN_ACT
    if act not in mapping:
        raise HFConfigError(
            f"hidden_act {act!r} of model_type {r.family!r} has no llmspec activation; known: {', '.join(mapping)}"
        )
    return mapping[act]


def _validated(arch: dict[str, Any]) -> dict[str, Any]:
    from pydantic import ValidationError

    try:
        Architecture(**arch)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HFConfigError(f"imported architecture is invalid: {where}: {first['msg']}") from None
    return arch


def _dense_layer_count(r: _Reader, keys: MoeKeys, n_layers: int) -> int:
    """Blocks with a dense MLP (MoeKeys.sparse_layers): i in the list key, or (i + 1) % step != 0, or no experts."""
    assert keys.sparse_layers is not None
    list_key, step_key = keys.sparse_layers
    step = r.count(step_key)
    if step < 1:
        raise HFConfigError(f"config.json {step_key!r} must be at least 1, got {step}")
    dense = r.get(list_key) or []
    if not isinstance(dense, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in dense):
        raise HFConfigError(f"config.json {list_key!r} must be a list of layer indices, got {dense!r}")
    if r.int(keys.n_experts) == 0:
        return n_layers
    only = set(dense)
    return sum(1 for i in range(n_layers) if i in only or (i + 1) % step != 0)
