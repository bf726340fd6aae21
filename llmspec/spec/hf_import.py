"""Import a Hugging Face ``config.json`` as an llmspec architecture.

``architecture_from_hf(config) -> (family, architecture dict)``. The dict uses the field names of
:class:`llmspec.spec.models.Architecture` and is validated against it. Per-family facts (defaults that
transformers fills in when a key is missing, key aliases, biases and norms that the modelling code fixes) are
the family registry's (``llmspec.spec.families``); the quirks that need code are the functions below. Every fact
is taken from transformers 5.24 ``models/<family>/{configuration,modeling}_<family>.py``.

This module does not import transformers: the lint path reads specs with ``hf_config`` too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llmspec.spec.families import FAMILIES, Family
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

    def get(self, key: str, *, required: bool = True) -> Any:
        alias = self.aliases.get(key)
        for name in (key, alias):
            if name is not None and name in self.config and self.config[name] is not None:
                return self.config[name]
        for name in (key, alias):
            if name is not None and name in self.defaults:
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
    head_dim = r.int("head_dim", required=False)
    if head_dim is not None and head_dim * n_heads != d_model:
        arch["head_dim"] = head_dim
    for field, value in entry.arch.items():
        if isinstance(value, str) and value.startswith("$"):
            value = r.bool(value[1:])
        arch[field] = value
    quirk = _QUIRKS.get(family)
    if quirk is not None:
        quirk(r, arch)
    return family, _validated(arch)


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


# --- quirks that need code -------------------------------------------------------------------------------------


def _gpt2(r: _Reader, arch: dict[str, Any]) -> None:
    # GPT2Model.wpe = nn.Embedding(n_positions, n_embd); GPT2MLP inner size n_inner or 4 * n_embd.
    if r.bool("add_cross_attention"):
        raise HFConfigError("GPT-2 with add_cross_attention = true (an encoder-decoder) cannot be expressed in a spec")
    arch["learned_positions"] = arch["context_length"]


def _falcon(r: _Reader, arch: dict[str, Any]) -> None:
    # FalconAttention: new_decoder_architecture -> (2 * num_kv_heads + num_heads) * head_dim for fused qkv;
    # multi_query -> one k/v head; else 3 * hidden. FalconDecoderLayer norms: parallel_attn with
    # num_ln_in_parallel_attn == 2 (the new-architecture default) -> ln_attn + ln_mlp; parallel_attn otherwise ->
    # input_layernorm only; sequential -> input + post_attention layernorm.
    new_arch = r.bool("new_decoder_architecture")
    if new_arch:
        arch["n_kv_heads"] = r.int("num_key_value_heads", required=False) or arch["n_heads"]
    elif r.bool("multi_query"):
        arch["n_kv_heads"] = 1
    else:
        arch["n_kv_heads"] = arch["n_heads"]
    n_ln = r.int("num_ln_in_parallel_attn", required=False)
    if n_ln is None and new_arch:
        n_ln = 2
    if not arch["parallel_attention"]:
        arch["norms_per_layer"] = 2
    else:
        arch["norms_per_layer"] = 2 if n_ln == 2 else 1
    arch["position"] = "alibi" if r.bool("alibi") else "rope"
    arch.pop("head_dim", None)  # FalconConfig.head_dim is always hidden_size // num_attention_heads


def _opt(r: _Reader, arch: dict[str, Any]) -> None:
    proj = r.int("word_embed_proj_dim", required=False)
    if proj is not None and proj != arch["d_model"]:
        raise HFConfigError(
            f"OPT word_embed_proj_dim ({proj}) differs from hidden_size ({arch['d_model']}): the project_in/"
            "project_out layers of such checkpoints (e.g. opt-350m) cannot be expressed in a spec"
        )
    arch["learned_positions"] = arch["context_length"] + 2  # OPTLearnedPositionalEmbedding offset = 2
    arch["norm"] = "layernorm" if r.bool("layer_norm_elementwise_affine") else "nonparametric"
    arch["final_norm"] = r.bool("do_layer_norm_before") and not r.bool("_remove_final_layer_norm")


def _dense_layer_count(r: _Reader, n_layers: int) -> int:
    # Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer: layer i gets the sparse block iff i not in mlp_only_layers and
    # num_experts > 0 and (i + 1) % decoder_sparse_step == 0; otherwise a dense MLP of intermediate_size.
    step = r.count("decoder_sparse_step")
    if step < 1:
        raise HFConfigError(f"config.json 'decoder_sparse_step' must be at least 1, got {step}")
    dense = r.get("mlp_only_layers") or []
    if not isinstance(dense, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in dense):
        raise HFConfigError(f"config.json 'mlp_only_layers' must be a list of layer indices, got {dense!r}")
    if r.int("num_experts") == 0:
        return n_layers
    only = set(dense)
    return sum(1 for i in range(n_layers) if i in only or (i + 1) % step != 0)


def _mixtral(r: _Reader, arch: dict[str, Any]) -> None:
    arch["moe"] = {"n_experts": r.int("num_local_experts"), "experts_per_token": r.int("num_experts_per_tok")}


def _qwen3_moe(r: _Reader, arch: dict[str, Any]) -> None:
    dense = _dense_layer_count(r, arch["n_layers"])
    if dense == arch["n_layers"]:  # no sparse block at all: a dense model with MLPs of intermediate_size
        return
    arch["moe"] = {
        "n_experts": r.int("num_experts"),
        "experts_per_token": r.int("num_experts_per_tok"),
        "expert_ffn_dim": r.int("moe_intermediate_size"),
    }
    if dense:
        arch["moe"]["dense_layers"] = dense


def _qwen2_moe(r: _Reader, arch: dict[str, Any]) -> None:
    _qwen3_moe(r, arch)
    if "moe" not in arch:  # the shared expert lives in the sparse block only
        return
    shared = r.int("shared_expert_intermediate_size")
    if not shared:  # Qwen2MoeSparseMoeBlock still builds shared_expert_gate (hidden -> 1) around an empty MLP
        raise HFConfigError("shared_expert_intermediate_size = 0 (a shared-expert gate without a shared expert) "
                            "cannot be expressed in a spec")
    arch["moe"].update(shared_experts=1, shared_expert_ffn_dim=shared, shared_expert_gate=True)


_QUIRKS: dict[str, Callable[[_Reader, dict[str, Any]], None]] = {
    "gpt2": _gpt2,
    "falcon": _falcon,
    "opt": _opt,
    "mixtral": _mixtral,
    "qwen3_moe": _qwen3_moe,
    "qwen2_moe": _qwen2_moe,
}
