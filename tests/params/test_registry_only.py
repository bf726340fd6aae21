"""The family registry is the single place for family facts (issue 9: "adding a family means touching the registry
and its test data, nothing else").

1. No module of llmspec/ outside the registry (llmspec/spec/families.py) names a family in code: no string literal
   equal to a registry model_type or class name (docstrings and comments are documentation and are not code).
2. A toy family added only as registry data (monkeypatched into FAMILIES, nothing else touched) imports from a
   config.json, exports back to one for --measure (hfmap), and gets LoRA parameter counts on its own module names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from llmspec.estimate.hfmap import config_for, family_config
from llmspec.estimate.params import count_params, lora_shapes
from llmspec.spec.families import FAMILIES
from llmspec.spec.family_types import AllOf, Family, MoeKeys, Offset, Switch
from llmspec.spec.hf_import import HFConfigError, architecture_from_hf
from llmspec.spec.loader import load_spec
from llmspec.spec.models import Architecture
from llmspec.spec.scaffold import toml_value

PACKAGE = Path(__file__).resolve().parents[2] / "llmspec"
REGISTRY = PACKAGE / "spec" / "families.py"
# (file relative to llmspec/, literal) -> why it is not a family name
NOT_A_FAMILY = {("estimate/fit.py", "opt"): "a what-would-fit candidate kind: optimizer changes",
                ("estimate/engine.py", "falcon"): "AutoAWQ's own fuser list (AWQ_FUSED_QKV: model types whose fuser "
                                                  "keeps the checkpoint's fused qkv, mpt included), an engine fact"}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
        # attribute docstrings: a bare string right after an assignment
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list):
                for prev, stmt in zip(stmts, stmts[1:], strict=False):
                    if (isinstance(prev, (ast.Assign, ast.AnnAssign)) and isinstance(stmt, ast.Expr)
                            and isinstance(stmt.value, ast.Constant)):
                        out.add(id(stmt.value))
    return out


def family_literals(path: Path, names: set[str]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstring_nodes(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
            and id(node) not in docs]


def test_no_module_outside_the_registry_names_a_family():
    names = set(FAMILIES) | {f.hf_class for f in FAMILIES.values()}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == REGISTRY:
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        found += [f"{rel}:{line}: {value!r}" for line, value in family_literals(path, names)
                  if (rel, value) not in NOT_A_FAMILY]
    assert not found, "family facts outside the registry (llmspec/spec/families.py):\n" + "\n".join(found)


def test_the_scan_finds_a_family_literal(tmp_path):
    """The check above can fail: a per-family table like the old hf_import._QUIRKS is found, a docstring is not."""
    src = tmp_path / "quirks.py"
    src.write_text('"""Mentions falcon in prose."""\n_QUIRKS = {"falcon": print}\nx = 1\n"""gpt2 here too"""\n')
    assert family_literals(src, set(FAMILIES)) == [(2, "falcon")]


def _toy_import(r, arch: dict) -> None:
    if r.bool("toy_tied_norms"):  # a quirk that needs code: a hook named by the entry
        arch["norms_per_layer"] = 1


def _toy_export(a: Architecture, cfg: dict) -> None:
    cfg["toy_tied_norms"] = a.norms_per_layer == 1


TOY = Family(
    "toy_lm", "ToyForCausalLM", True,
    defaults=dict(vocab_size=1000, d_embed=256, n_blocks=2, heads=4, num_key_value_heads="", head_dim="",
                  intermediate_size=688, hidden_act="silu", max_position_embeddings=512, tie_word_embeddings=False,
                  use_bias=True, rms=True, final_ln=True, strip_final_ln=False, toy_tied_norms=False,
                  n_routed=4, experts_per_tok=2),
    modules={"wq": ("q",), "wk": ("k",), "wv": ("v",), "wo": ("o",), "w_gate": ("gate",), "w_in": ("up",),
             "w_out": ("down",), "router": ("router",), "tok_emb": ("embed",), "pos_emb": ("pos_embed",),
             "lm_head": ("head",)},
    peft_targets=("wq", "wv"),
    aliases={"hidden_size": "d_embed", "num_hidden_layers": "n_blocks"},
    legacy_aliases={"num_attention_heads": "heads"},
    arch={"qkv_bias": "$use_bias", "norm": Switch("rms", {True: "rmsnorm", False: "layernorm"}),
          "final_norm": AllOf({"final_ln": True, "strip_final_ln": False}), "position": "learned",
          "learned_positions": Offset("context_length", 4)},
    reject={"is_encoder_decoder": (True, "a toy encoder-decoder")},
    same_as={"embed_proj_dim": ("hidden_size", "a projected embedding")},
    moe=MoeKeys("n_routed", experts_per_token="experts_per_tok"),
    import_hook=_toy_import, export_hook=_toy_export,
)
TOY_CONFIG = {"model_type": "toy_lm", "d_embed": 512, "n_blocks": 3, "heads": 8, "vocab_size": 4000,
              "max_position_embeddings": 1024, "use_bias": False, "rms": False, "strip_final_ln": True,
              "toy_tied_norms": True, "n_routed": 8, "intermediate_size": 1024}


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(FAMILIES, "toy_lm", TOY)
    return TOY


def test_a_toy_family_from_registry_data_imports(toy):
    family, arch = architecture_from_hf(TOY_CONFIG)
    assert family == "toy_lm"
    assert {k: arch[k] for k in (
        "n_layers", "d_model", "n_heads", "n_kv_heads", "ffn_dim", "activation", "vocab_size", "context_length",
        "qkv_bias", "norm", "final_norm", "position", "learned_positions", "norms_per_layer", "moe")} == {
        "n_layers": 3, "d_model": 512, "n_heads": 8, "n_kv_heads": 8, "ffn_dim": 1024, "activation": "swiglu",
        "vocab_size": 4000, "context_length": 1024, "qkv_bias": False, "norm": "layernorm", "final_norm": False,
        "position": "learned", "learned_positions": 1028, "norms_per_layer": 1,
        "moe": {"n_experts": 8, "experts_per_token": 2}}
    with pytest.raises(HFConfigError, match="a toy encoder-decoder cannot be expressed"):
        architecture_from_hf({**TOY_CONFIG, "is_encoder_decoder": True})
    with pytest.raises(HFConfigError, match="embed_proj_dim \\(256\\) differs from hidden_size \\(512\\)"):
        architecture_from_hf({**TOY_CONFIG, "embed_proj_dim": 256})


def test_a_toy_family_from_registry_data_exports_and_counts(toy, tmp_path):
    _, arch = architecture_from_hf(TOY_CONFIG)
    a = Architecture(**arch)
    cfg = family_config(toy, a)
    assert {k: cfg[k] for k in ("d_embed", "n_blocks", "num_attention_heads", "use_bias", "rms", "final_ln",
                                "strip_final_ln", "toy_tied_norms", "n_routed", "experts_per_tok")} == {
        "d_embed": 512, "n_blocks": 3, "num_attention_heads": 8, "use_bias": False, "rms": False, "final_ln": False,
        "strip_final_ln": False, "toy_tied_norms": True, "n_routed": 8, "experts_per_tok": 2}
    assert architecture_from_hf(cfg)[1] == arch  # the export imports back to the same architecture

    moe = arch.pop("moe")
    lines = ["[model]", 'name = "toy"', 'family = "toy_lm"', "[model.architecture]",
             *(f"{k} = {toml_value(v)}" for k, v in arch.items()),
             "[model.architecture.moe]", *(f"{k} = {toml_value(v)}" for k, v in moe.items()),
             "[training]", 'method = "lora"', "[training.lora]", 'targets = ["wq", "wv", "w_out"]', "rank = 8"]
    (tmp_path / "toy.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = load_spec(tmp_path / "toy.toml")
    assert config_for(spec)["n_blocks"] == 3  # --measure's config: the registry round trip accepts it
    shapes = lora_shapes(spec.arch, ["wq", "wv", "w_out"], "toy_lm")
    assert shapes, "the toy family's own module names select adapters"
    pc = count_params(spec.arch, spec.training, family="toy_lm")
    # q and v (512 -> 512 each) in 3 blocks, plus down projections of the 8 separate experts (1024 -> 512):
    # r x (in + out) per adapted matrix
    assert pc.unmatched_targets == ()
    assert pc.trainable == pc.lora == 8 * (3 * 2 * (512 + 512) + 3 * 8 * (1024 + 512))
