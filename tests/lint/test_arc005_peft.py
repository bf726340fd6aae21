"""ARC005 against the installed PEFT, for every family of the registry: `peft.get_peft_model` on the family's real
class (each preset's config.json with 2 layers, on the meta device) raises exactly when `llmspec lint` says ARC005
error, and adapts exactly the modules ARC005's classification says a target matches.

Targets tried per class: every module name of its tree that exists there, alone when PEFT can adapt it and beside a
real linear when it is a container (one container sinks the whole list), a dotted path to each of them, every name
of the registry's layouts (PEFT's MoE expert names apart and together), a name of no module alone and beside a real
linear."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from lint_helpers import lint_spec

from llmspec.estimate.params import all_linear_targets
from llmspec.lint.rules.arc005_lora_targets_unmatched import classify, unpaired
from llmspec.spec.families import FAMILIES, GENERIC_MODULES, PRESETS
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.models import Architecture
from llmspec.spec.module_tree import adaptable, present

# the tiny real class, built as tests/params builds it
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "params"))
from test_families import meta_model, small

pytestmark = [pytest.mark.needs("torch"), pytest.mark.needs("transformers"), pytest.mark.needs("peft")]

CASES = [(name, {}) for name in PRESETS] + [("Qwen1.5-MoE-A2.7B", {"mlp_only_layers": [0]}),
                                             ("Qwen3-30B-A3B", {"mlp_only_layers": [0]}),
                                             ("Falcon-7B", {"parallel_attn": False})]


def peft_run(config: dict, targets: list[str] | str) -> set[str] | str:
    """The module paths (layer indices as "#") PEFT puts adapters on, or the error it raises."""
    import peft

    try:
        model = peft.get_peft_model(meta_model(config), peft.LoraConfig(r=2, target_modules=targets))
    except ValueError as exc:  # NoMatchingPeftModuleError is a ValueError too
        return f"{type(exc).__name__}: {exc}"
    prefix = "base_model.model."
    # two ParamWrappers on one experts module (gate_up_proj and down_proj) nest: experts.base_layer
    return {re.sub(r"(?<=\.)\d+(?=\.|$)", "#", name.split(".lora_")[0].removeprefix(prefix)).replace(".base_layer", "")
            for name, _ in model.named_parameters() if ".lora_" in name}


def arc005(tmp_path: Path, config: dict, targets: list[str]) -> list[tuple[str, str]]:
    """ARC005's findings (severity, message) for this target list, from the real lint of a spec that reads the
    config.json."""
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    spec = (f'[model]\nname = "m"\nhf_config = "config.json"\n\n[training]\nmethod = "lora"\n\n[training.lora]\n'
            f"targets = {json.dumps(targets)}\n")
    return [(f.severity, f.message) for f in lint_spec(tmp_path, spec, select=["ARC005"]).findings]


# what PEFT says -> what ARC005's error says for the same cause
CAUSES = {"is not supported": "container module", "not found in the base model": "no module of",
          "Cannot convert PEFT target(s)": "Cannot convert PEFT target(s)"}


def targets_to_try(fam, arch) -> list[tuple[list[str], str]]:
    """(target list, what it exercises): every module of the tree and every name of the registry's and the generic
    layouts, containers beside a real linear, dotted paths, PEFT's fused expert names apart and together, a name of
    no module alone and beside a real linear."""
    nodes = present(fam.tree, arch)
    linear = fam.linear_names[0]
    out: list[tuple[list[str], str]] = []
    for name in dict.fromkeys([n.name for n in nodes if n.name != "#"] + list(fam.modules) + list(GENERIC_MODULES)):
        node = next((n for n in nodes if n.name == name), None)
        if node is None or adaptable(fam.modules, fam.peft_experts, name):
            out.append(([name], "a name alone"))
        else:
            out.append(([linear, name], "a container beside a linear"))
        if node is not None:
            out.append(([".".join(node.path.split(".")[-2:]).replace("#", "1")], "a dotted path"))
    if fam.peft_fused:
        out.append((list(fam.peft_fused), "the fused expert names together"))
    out += [(["no_such_module"], "nothing"), ([linear, "no_such_module"], "partial"),
            ([linear, "mlp.no_such_module"], "partial, dotted"),
            ([linear, ".*_proj"], "partial, a regex in a list is a name to PEFT")]
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
        errors = [message for severity, message in ours if severity == "error"]
        if isinstance(peft_says, str):  # PEFT raised: ARC005 says error, for the same cause
            cause = next(ours_ for theirs, ours_ in CAUSES.items() if theirs in peft_says)
            assert errors and any(cause in m for m in errors), context
            continue
        assert not errors, context
        assert [s for s, _ in ours] == (["warning"] if what.startswith("partial") else []), context
        matched = {n.path for v in classify(arch, model_type, targets) if v.kind == "matched" for n in v.nodes}
        assert matched == peft_says, context


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # PEFT's note on its own rank_pattern for the fused parameter
@pytest.mark.parametrize(("name", "extra"), CASES, ids=[n + "".join(f"-{k}" for k in e) for n, e in CASES])
def test_all_linear_is_pefts_all_linear(name, extra, tmp_path):
    """["all-linear"] passes ARC005, and PEFT's "all-linear" adapts exactly the modules of the registry's linear
    names (the targets llmspec counts for it)."""
    config = {**small(PRESETS[name].config()), **extra}
    model_type, fields = architecture_from_hf(config)
    arch = Architecture(**fields)
    assert arc005(tmp_path, config, ["all-linear"]) == []
    verdicts = classify(arch, model_type, all_linear_targets(arch, model_type))
    assert {n.path for v in verdicts if v.kind == "matched" for n in v.nodes} == peft_run(config, "all-linear")


def peft_adapters(config: dict, targets: list[str], rank: int = 2) -> tuple[int, int] | str:
    """(adapter parameters, adapted modules with their real block indices) of PEFT on the tiny class, or its error."""
    import peft

    try:
        model = peft.get_peft_model(meta_model(config), peft.LoraConfig(r=rank, target_modules=targets))
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"
    lora = [(name, p) for name, p in model.named_parameters() if ".lora_" in name]
    return sum(p.numel() for _, p in lora), len({name.split(".lora_")[0] for name, _ in lora})


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # PEFT's note on its own rank_pattern for the fused parameter
@pytest.mark.parametrize(("name", "extra"), CASES, ids=[n + "".join(f"-{k}" for k in e) for n, e in CASES])
def test_lora_shapes_count_what_peft_adapts_for_dotted_targets(name, extra):
    """Every target ARC005 says matches, dotted ones included (a module's last two path parts, its whole path with
    a block index), adds to the estimate exactly the adapter parameters PEFT builds for it, on as many modules
    (lora_shapes reads the resolution ARC005 reports: llmspec.estimate.lora_targets.resolve). lora_shapes used to
    count nothing for a dotted target."""
    from llmspec.estimate.params import lora_shapes

    config = {**small(PRESETS[name].config()), **extra}
    model_type, fields = architecture_from_hf(config)
    fam, arch = FAMILIES[model_type], Architecture(**fields)
    lists = [t for t, what in targets_to_try(fam, arch) if what in ("a name alone", "a dotted path")]
    lists += [[n.path.replace("#", "1")] for n in present(fam.tree, arch) if adaptable(fam.modules, fam.peft_experts,
                                                                                        n.name)]
    tried = 0
    for targets in lists:
        if any(v.kind != "matched" for v in classify(arch, model_type, targets)) or unpaired(model_type, targets):
            continue  # PEFT raises (ARC005's errors)
        peft_says = peft_adapters(config, targets)
        shapes = lora_shapes(arch, targets, model_type)
        ours = (sum(s.params(2) for s in shapes),
                sum(s.copies // (arch.moe.n_experts if s.role.startswith("expert.") and arch.moe else 1)
                    for s in shapes))  # PEFT wraps the fused experts of a block as one module
        assert ours == peft_says, (targets, [(s.role, s.copies) for s in shapes], peft_says)
        tried += 1
    assert tried
