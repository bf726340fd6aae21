"""The registry's module trees (llmspec.spec.module_tree) against named_modules() of the real transformers classes.

Every preset's config.json (2 layers; the MoE ones also with a dense block) is built with AutoModelForCausalLM on the
meta device. Each module path (layer indices as "#") must be a node of the registry's tree for that architecture and
the other way round, and a module is adaptable in the registry exactly when PEFT can wrap it: an nn.Linear,
nn.Embedding or transformers Conv1D, or a module PEFT's own MoE conversion table maps for this model type
(peft.utils.transformers_weight_conversion). So the linear names and the container names cannot drift from the class.
"""

from __future__ import annotations

import re

import pytest
from test_families import meta_model, small

from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.models import Architecture
from llmspec.spec.module_tree import adaptable, containers, matches, parse, present

pytestmark = [pytest.mark.needs("torch"), pytest.mark.needs("transformers"), pytest.mark.needs("peft")]

# variants the presets do not cover: the MoE presets with block 0 dense (Qwen*MoeMLP there, the sparse block
# elsewhere), Falcon with sequential attention (input and post-attention layernorm)
VARIANTS = [("Qwen3-30B-A3B", {"mlp_only_layers": [0]}), ("Qwen1.5-MoE-A2.7B", {"mlp_only_layers": [0]}),
            ("Falcon-7B", {"parallel_attn": False})]
CASES = [(name, {}) for name in PRESETS] + VARIANTS


def tiny(name: str, extra: dict) -> dict:
    return {**small(PRESETS[name].config()), **extra}


def peft_converted(model_type: str) -> set[str]:
    """Module names PEFT's MoE conversion maps onto parameters for this model type (independent of llmspec)."""
    from peft.utils import transformers_weight_conversion as conv

    pattern = conv._MODEL_TO_CONVERSION_PATTERN.get(model_type)
    return set(conv._MOE_TARGET_MODULE_MAPPING.get(pattern, {})) if pattern else set()


def real_tree(config: dict) -> dict[str, bool]:
    """path (layer indices as "#") -> PEFT can wrap it, from the real class."""
    from torch import nn
    from transformers.pytorch_utils import Conv1D

    model = meta_model(config)
    converted = peft_converted(config["model_type"])
    out: dict[str, bool] = {}
    for path, module in model.named_modules():
        if not path:
            continue
        leaf = path.rsplit(".", 1)[-1]
        wrap = isinstance(module, (nn.Linear, nn.Embedding, Conv1D)) or leaf in converted
        out[re.sub(r"(?<=\.)\d+(?=\.|$)", "#", path)] = wrap
    return out


@pytest.mark.parametrize(("name", "extra"), CASES, ids=[n + "".join(f"-{k}" for k in e) for n, e in CASES])
def test_registry_tree_is_the_real_classes_modules(name, extra):
    config = tiny(name, extra)
    model_type, arch_fields = architecture_from_hf(config)
    fam = FAMILIES[model_type]
    arch = Architecture(**arch_fields)
    ours = {n.path: adaptable(fam.modules, fam.peft_experts, n.name) for n in present(fam.tree, arch)}
    real = real_tree(config)
    assert set(ours) == set(real), (sorted(set(ours) - set(real)), sorted(set(real) - set(ours)))
    assert ours == real, sorted(p for p in ours if ours[p] != real[p])
    # the container names and the linear names, as suffixes
    real_containers = {p.rsplit(".", 1)[-1] for p, wrap in real.items() if not wrap} - {"#"}
    assert real_containers <= set(fam.container_names)
    real_linears = {p.rsplit(".", 1)[-1] for p, wrap in real.items() if wrap}
    assert real_linears <= set(fam.modules)


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_every_tree_name_is_seen_in_some_real_class(model_type):
    """No stale names: the union over the family's presets (and variants) covers the whole tree."""
    fam = FAMILIES[model_type]
    seen: set[str] = set()
    for name, extra in CASES:
        config = tiny(name, extra)
        if config["model_type"] == model_type:
            seen |= set(real_tree(config))
    assert {n.path for n in parse(fam.tree)} == seen


def test_tree_syntax_and_matching():
    nodes = list(parse("a(b(#(c d?moe)) e) f"))
    assert [n.path for n in nodes] == ["a", "a.b", "a.b.#", "a.b.#.c", "a.b.#.d", "a.e", "f"]
    assert nodes[4].cond == ("moe",) and nodes[0].children == ("b", "e")
    assert [n.path for n in matches(nodes, "b.1.c", 2)] == ["a.b.#.c"]
    assert matches(nodes, "b.2.c", 2) == [] and matches(nodes, "e.c", 2) == []
    assert [n.path for n in matches(nodes, "a.b", 2)] == ["a.b"]
    with pytest.raises(ValueError, match="unknown condition"):
        parse("a?nope")
    assert containers("a(b(#(q_proj)))", {"q_proj": ("q",)}, "separate") == ("a", "b")


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_peft_moe_conversion_facts_are_pefts(model_type):
    """peft_experts == "fused" exactly where PEFT converts the class, and peft_fused is PEFT's fused name group."""
    from peft.utils import transformers_weight_conversion as conv

    fam = FAMILIES[model_type]
    pattern = conv._MODEL_TO_CONVERSION_PATTERN.get(model_type)
    fused = tuple(conv._MOE_FUSED_TARGETS.get(pattern, {}).get("gate_up_proj", ())) if pattern else ()
    assert fam.peft_fused == fused
    if fam.moe is not None:
        assert (fam.peft_experts == "fused") is bool(pattern)
        # every name PEFT's conversion maps is one of the family's LoRA target names
        assert set(conv._MOE_TARGET_MODULE_MAPPING.get(pattern, {})) <= set(fam.modules)
