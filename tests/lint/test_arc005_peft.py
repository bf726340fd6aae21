"""ARC005 against the installed PEFT, for every family of the registry: `peft.get_peft_model` on the family's real
class (each preset's config.json with 2 layers, on the meta device) raises exactly when `llmspec lint` says ARC005
error, and adapts exactly the modules ARC005's classification says a target matches.

Targets tried per class: every module name of its tree that exists there, alone when PEFT can adapt it and beside a
real linear when it is a container (one container sinks the whole list), a dotted path to each of them, a name of
no module alone and beside a real linear."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from lint_helpers import lint_spec

from llmspec.lint.rules.arc005_lora_targets_unmatched import classify
from llmspec.spec.families import FAMILIES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.models import Architecture
from llmspec.spec.module_tree import adaptable, present

# the tiny real class, built as tests/params builds it
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "params"))
from test_families import meta_model, small

pytestmark = [pytest.mark.needs("torch"), pytest.mark.needs("transformers"), pytest.mark.needs("peft")]

CASES = [(name, {}) for name in PRESETS] + [("Qwen1.5-MoE-A2.7B", {"mlp_only_layers": [0]}),
                                             ("Falcon-7B", {"parallel_attn": False})]


def peft_run(config: dict, targets: list[str]) -> set[str] | str:
    """The module paths (layer indices as "#") PEFT puts adapters on, or the error it raises."""
    import peft

    try:
        model = peft.get_peft_model(meta_model(config), peft.LoraConfig(r=2, target_modules=targets))
    except ValueError as exc:  # NoMatchingPeftModuleError is a ValueError too
        return f"{type(exc).__name__}: {exc}"
    prefix = "base_model.model."
    return {re.sub(r"(?<=\.)\d+(?=\.|$)", "#", name.split(".lora_")[0].removeprefix(prefix))
            for name, _ in model.named_parameters() if ".lora_" in name}


def arc005(tmp_path: Path, config: dict, targets: list[str]) -> list[str]:
    """ARC005's severities for this target list, from the real lint of a spec that reads the config.json."""
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    spec = (f'[model]\nname = "m"\nhf_config = "config.json"\n\n[training]\nmethod = "lora"\n\n[training.lora]\n'
            f"targets = {json.dumps(targets)}\n")
    return [f.severity for f in lint_spec(tmp_path, spec, select=["ARC005"]).findings]


def targets_to_try(fam, arch) -> list[tuple[list[str], str]]:
    """(target list, what it exercises)."""
    nodes = present(fam.tree, arch)
    linear = next(n.name for n in nodes if adaptable(fam.modules, fam.peft_experts, n.name)
                  and n.name in fam.linear_names)
    out: list[tuple[list[str], str]] = []
    seen: set[str] = set()
    for node in nodes:
        if node.name in seen or node.name == "#":
            continue
        seen.add(node.name)
        dotted = ".".join(node.path.split(".")[-2:]).replace("#", "1")
        if adaptable(fam.modules, fam.peft_experts, node.name):
            out += [([node.name], "adaptable"), ([dotted], "adaptable, dotted")]
        else:
            out += [([linear, node.name], "container"), ([dotted], "container, dotted")]
    out += [(["no_such_module"], "nothing"), ([linear, "no_such_module"], "partial"),
            ([linear, "mlp.no_such_module"], "partial, dotted")]
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("name", "extra"), CASES, ids=[n + "".join(f"-{k}" for k in e) for n, e in CASES])
def test_arc005_says_error_exactly_when_peft_raises(name, extra, tmp_path):
    config = {**small(PRESETS[name].config()), **extra}
    model_type, fields = architecture_from_hf(config)
    fam, arch = FAMILIES[model_type], Architecture(**fields)
    for targets, what in targets_to_try(fam, arch):
        peft_says = peft_run(config, targets)
        ours = arc005(tmp_path, config, targets)
        context = (targets, what, peft_says, ours)
        raised = isinstance(peft_says, str)
        assert ("error" in ours) is raised, context
        if raised:
            expect = "is not supported" if what.startswith("container") else "not found in the base model"
            assert expect in peft_says, context
            continue
        assert ours == (["warning"] if what.startswith("partial") else []), context
        verdicts = classify(arch, model_type, targets)
        matched = {n.path for v in verdicts if v.kind == "matched" for n in v.nodes}
        assert matched == peft_says, context
