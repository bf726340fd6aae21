"""The "what would fit" search is pruned and the shape helpers are memoised for speed (benchmarks/lint_speed.md);
these tests check that neither changes a result: the pruned search against an exhaustive one written here, on
real specs loaded through the loader, and the memoised helpers against mutation and sharing."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from llmspec.estimate import fit
from llmspec.estimate.inference import inference_memory
from llmspec.estimate.params import count_params, lora_shapes
from llmspec.estimate.shapes import layout
from llmspec.estimate.training import training_memory
from llmspec.spec.loader import load_spec
from tests.estimate.conftest import LLAMA2_7B

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def exhaustive(spec, limit: int = 5) -> list[fit.Fix]:
    """what_would_fit without any pruning: every combination of distinct groups, sizes 1..3, all estimated (the
    joining of training and inference fixes, fit.complete, is the same step in both)."""
    plans = {"training": (training_memory, fit._training_candidates),
             "inference": (inference_memory, fit._inference_candidates)}
    modes = [m for m, section in (("training", spec.training), ("inference", spec.inference)) if section is not None]
    ests = {m: plans[m][0](spec) for m in modes}
    if not any(e.fits is False for e in ests.values()):
        return []
    by_mode = {}
    for mode in modes:
        if not fit._short(ests[mode]):
            continue
        estimator, candidates = plans[mode]
        cands = candidates(spec)
        found = []
        for size in (1, 2, 3):
            for combo in itertools.combinations(cands, size):
                if len({c.group for c in combo}) < size:
                    continue
                merged = {}
                for c in combo:
                    merged.update(c.overrides)
                est = estimator(fit.with_overrides(spec, merged))
                if fit.fits_with_headroom(est):
                    found.append(fit._fix(mode, combo, merged, est))
            if found:
                break
        best = {}
        for f in sorted(found, key=lambda f: (f.cost, f.total_bytes)):
            best.setdefault(f.group, f)
        by_mode[mode] = sorted(best.values(), key=lambda f: (f.cost, f.total_bytes))[:limit]
    return fit.complete(spec, by_mode, modes, limit)


VARIANTS = [
    (example, sets)
    for example in ("llama3-70b-full-fsdp-8xh100.toml", "llama2-7b-lora-a100.toml", "llama3-8b-qlora-rtx4090.toml",
                    "pretrain-7b-repeated-data.toml")
    for sets in (
        ["training.micro_batch_size=16", "training.seq_len=8192"],
        ["training.micro_batch_size=8", "training.seq_len=4096", "training.activation_checkpointing=true"],
        ["training.micro_batch_size=32", "training.seq_len=2048", "hardware.count=1"],
        ["training.micro_batch_size=2", "training.seq_len=16384", "hardware.accelerator=RTX-4090"],
    )
] + [
    ("llama3-70b-int8-serving-2xh100.toml", ["inference.batch_size=64"]),
    ("llama3-70b-int8-serving-2xh100.toml", ["inference.batch_size=256", "inference.precision=bf16"]),
]


@pytest.mark.parametrize("limit", [0, 1, 3, 5])
@pytest.mark.parametrize("example,sets", VARIANTS)
def test_pruned_search_equals_exhaustive_search(example, sets, limit):
    spec = load_spec(EXAMPLES / example, sets)
    expected = [f.to_dict() for f in exhaustive(spec, limit)]
    assert [f.to_dict() for f in fit.what_would_fit(spec, limit)] == expected


def test_the_variants_exercise_the_search():
    """Guard for the test above: some variants need combinations, and some offer more fixes than the limits
    it tries (1 and 3), so that the search's early stop is exercised."""
    sizes, counts = set(), []
    for example, sets in VARIANTS:
        fixes = exhaustive(load_spec(EXAMPLES / example, sets), 99)
        sizes |= {f.group.count("+") + 1 for f in fixes}
        counts.append(len(fixes))
    assert {1, 2} <= sizes or {1, 3} <= sizes
    assert max(counts) > 3 and 0 in counts


@pytest.mark.parametrize("sets", [
    ["training.micro_batch_size=1", "training.gradient_accumulation=16", "hardware.sharding=zero2"],
    ["training.method=qlora", "training.lora.targets=[\"all-linear\"]", "hardware.offload=optimizer"],
    ["inference.batch_size=2", "inference.kv_cache_precision=fp8"],
])
def test_with_overrides_equals_loading_with_set(sets):
    path = EXAMPLES / "llama2-7b-lora-a100.toml"
    spec = load_spec(path)
    before = spec.model_dump()
    overrides = {}
    for item in sets:
        key, _, value = item.partition("=")
        overrides[key] = load_spec(path, [item]).model_dump()  # the value as the loader parses it
        for part in key.split("."):
            overrides[key] = overrides[key][part]
    assert fit.with_overrides(spec, overrides).model_dump() == load_spec(path, sets).model_dump()
    assert spec.model_dump() == before  # the original is untouched


def test_memoised_shapes_follow_a_mutated_architecture():
    spec = load_spec(EXAMPLES / "llama2-7b-lora-a100.toml")
    arch = spec.arch
    total, shapes, lay = count_params(arch).total, lora_shapes(arch, ["q_proj"]), layout(arch)
    arch.n_layers *= 2  # validate_assignment is off: a plain attribute write
    try:
        assert count_params(arch).total > total
        assert lora_shapes(arch, ["q_proj"])[0].copies == 2 * shapes[0].copies
        assert layout(arch).matrices[0].copies == 2 * lay.matrices[0].copies
    finally:
        arch.n_layers //= 2
    assert count_params(arch).total == total


def test_memoised_results_are_not_shared_mutably():
    spec = load_spec(EXAMPLES / "llama2-7b-lora-a100.toml")
    first = count_params(spec.arch, spec.training)
    first.breakdown["embeddings"] = -1
    first.total = -1
    shapes = lora_shapes(spec.arch, spec.training.lora.targets)
    shapes.clear()
    again = count_params(spec.arch, spec.training)
    assert again.total > 0 and again.breakdown["embeddings"] > 0
    assert lora_shapes(spec.arch, spec.training.lora.targets)


def test_lora_rank_and_targets_are_part_of_the_key():
    path = EXAMPLES / "llama2-7b-lora-a100.toml"
    r8 = load_spec(path, ["training.lora.rank=8"])
    r64 = load_spec(path, ["training.lora.rank=64"])
    assert count_params(r64.arch, r64.training).trainable == 8 * count_params(r8.arch, r8.training).trainable
    q = load_spec(path, ['training.lora.targets=["q_proj"]'])
    qv = load_spec(path, ['training.lora.targets=["q_proj", "v_proj"]'])
    assert count_params(qv.arch, qv.training).trainable == 2 * count_params(q.arch, q.training).trainable


def test_moe_fields_are_part_of_the_key(load):
    """The MoE table is a nested model: its fields must reach the memo key (an unchanged key would return the
    first count)."""
    moe = "\n[model.architecture.moe]\nn_experts = {n}\nexperts_per_token = 2\n"
    text = LLAMA2_7B.replace("[training]", moe + "\n[training]")
    eight, sixteen = load(text.format(n=8)), load(text.format(n=16))
    dense = count_params(eight.arch).breakdown["attention"]
    assert count_params(sixteen.arch).total > count_params(eight.arch).total
    assert count_params(sixteen.arch).breakdown["attention"] == dense
    assert layout(sixteen.arch).layer_params > layout(eight.arch).layer_params
    sixteen.arch.moe.n_experts = 8  # a mutated nested table gets the other key
    assert count_params(sixteen.arch).total == count_params(eight.arch).total
