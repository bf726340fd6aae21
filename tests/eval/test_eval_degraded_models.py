"""Real degraded copies of the demo model, judged through `llmspec eval --baseline` against the fine-tuned run.

Copies: Gaussian noise at three scales (relative to each weight tensor's own standard deviation), an identical
file copy and a re-serialised copy (loaded and saved again by transformers). One baseline run is shared; each copy
runs once with m = 20 baseline gates (every gateable metric of the smoke suite, some twice), and the same real
results are then judged again with m = 1, 5, 10 gates by the library's evaluate_gates.

Measured: the smoke suite (8 perplexity documents, 40 multiple-choice and QA items, 60 tickets) is too small for
every gate to catch these drops at alpha/m; what holds, and is asserted, is that no degraded copy passes a gate
silently (a pass carries the power warning), undecidable gates fail closed, verdicts match their printed bounds,
and identical copies pass.

What the issue measured on the old code: with several perplexity gates a copy with +66% word perplexity passed
("no proven drop beyond 5%: change -66%, upper bound -46.1%").
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.eval, pytest.mark.slow]

POINTS = ["kb_mc/acc", "kb_mc/acc_norm", "kb_mc/acc,none", "kb_mc/acc_norm,none", "kb_qa/f1", "kb_qa/token_f1",
          "kb_tickets/acc", "kb_tickets/acc,none", "kb_tickets/macro_f1"]
PERCENT = ["kb_perplexity/word_perplexity", "kb_perplexity/byte_perplexity", "kb_perplexity/bits_per_byte",
           "kb_perplexity/token_perplexity"]
GATES20 = [(g, "points") for g in POINTS] + [(g, "percent") for g in PERCENT] + \
          [(g, "points") for g in POINTS[:7]]
assert len(GATES20) == 20
SCALES = {"small": 0.02, "large": 0.5, "huge": 2.0}


def _gates_arg(gates) -> str:
    items = [f'{{metric="{m}", max_drop={0.05 if u == "points" else 5.0}, drop_unit="{u}"}}' for m, u in gates]
    return "eval.gates=[" + ", ".join(items) + "]"


def _noisy_copy(src: Path, dst: Path, scale: float, seed: int) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(src)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if scale and p.numel() > 1:
                p.add_(torch.randn(p.shape, generator=gen) * scale * p.std())
    model.save_pretrained(dst, safe_serialization=True)
    for f in src.iterdir():
        if f.name.startswith("tokenizer"):
            shutil.copy(f, dst / f.name)
    return dst


@pytest.fixture(scope="module")
def copies(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("degraded")
    src = tiny_models["tiny-finetuned"]
    out = {"identical": Path(shutil.copytree(src, root / "identical")),
           "reserialised": _noisy_copy(src, root / "reserialised", 0.0, 0)}
    for i, (name, scale) in enumerate(SCALES.items()):
        out[name] = _noisy_copy(src, root / name, scale, 100 + i)
    return out


@pytest.fixture(scope="module")
def runs(copies, tmp_path_factory):
    from eval_helpers import run_llmspec

    root = tmp_path_factory.mktemp("degraded-runs")
    base = run_llmspec("eval", "examples/tiny-finetuned.toml", "-q", out=root / "baseline")
    assert base.code == 0, base.stderr
    baseline = str(root / "baseline" / "results.json")
    return {name: run_llmspec("eval", "examples/tiny-finetuned.toml", "-q", "--model", str(path), "--baseline",
                              baseline, "--set", _gates_arg(GATES20), out=root / name)
            for name, path in copies.items()}, json.loads(Path(baseline).read_text())


def _printed_bound_agrees(g: dict) -> None:
    from llmspec.eval import paired

    if g["status"] not in ("pass", "fail"):
        return
    word = "upper" if g["mode"] == "regression" else "lower"
    assert re.search(rf"{word} bound \S+", g["reason"]), g["reason"]
    rejected = paired.rejects(g["bound"], g["margin"], g["mode"])
    assert (g["status"] == "fail") == rejected, g["reason"]
    assert (g["p_value"] <= g["adjusted_alpha"]) == rejected, g


def _silent_pass(g: dict) -> bool:
    """A pass without the power warning: what must never happen to a badly degraded model."""
    return g["status"] == "pass" and not any("detects with 80% power only drops of" in w for w in g["warnings"])


@pytest.mark.parametrize("name", ["large", "huge"])
def test_large_noise_never_passes_silently(runs, name):
    """With m = 20 gates the run fails closed (the 8-document perplexity gates are undecidable at alpha/20), the
    largest noise fails several gates, and a gate that passes is one whose n cannot see the drop, and says so. At the smoke suite's
    40 multiple-choice documents a 27-point accuracy drop is not provable at level 0.0025: the demo suite is
    too small for that (see docs/metrics-and-gates.md, "Power by design")."""
    by_name, _ = runs
    run = by_name[name]
    gates = run.results["gates"]
    assert len(gates) == 20
    for g in gates:
        _printed_bound_agrees(g)
        assert g["status"] in ("fail", "undecidable", "pass"), g["reason"]
        assert not _silent_pass(g), g
        if g["status"] == "undecidable":  # 8 perplexity documents at alpha/20
            assert g["metric"].startswith("kb_perplexity/") and "needs at least" in g["reason"]
    if name == "huge":  # at noise 0.5 x the weights' spread every gate at alpha/20 is underpowered (all warn)
        assert sum(g["status"] == "fail" for g in gates) >= 5, [g["reason"] for g in gates]
    assert run.code == 2 and run.results["verdict"] == "ERROR"  # undecidable gates fail closed


@pytest.mark.parametrize("name", ["identical", "reserialised"])
def test_identical_copies_pass_every_reachable_gate(runs, name):
    by_name, _ = runs
    run = by_name[name]
    for g in run.results["gates"]:
        _printed_bound_agrees(g)
        assert g["status"] in ("pass", "undecidable"), g["reason"]
        assert g["diff"] == 0.0


def test_small_noise_verdicts_match_their_bounds(runs):
    by_name, _ = runs
    for g in by_name["small"].results["gates"]:
        _printed_bound_agrees(g)


@pytest.mark.parametrize("m", [1, 5, 10])
def test_fewer_gates_on_the_same_real_results(runs, m):
    """The same real results, judged with the first m gates by the library's evaluate_gates: large noise never
    passes a gate silently and fails the word-perplexity gate (a 1-gate family is reachable at n = 8), identical
    copies pass every reachable gate, and every verdict matches its bound."""
    from llmspec.eval.gates import evaluate_gates
    from llmspec.spec.models import Gate

    by_name, baseline = runs
    gates = [Gate(metric=g, max_drop=0.05 if u == "points" else 5.0, drop_unit=u)
             for g, u in [GATES20[9], *GATES20[:m - 1]]]  # word perplexity first: the gate of the issue
    for name in ("huge", "large", "identical", "reserialised"):
        rep = evaluate_gates(gates, by_name[name].results, baseline, 0.05, seed=1234)
        for r in rep.results:
            g = r.to_json()
            _printed_bound_agrees(g)
            if name in ("identical", "reserialised"):
                assert r.status in ("pass", "undecidable"), (name, m, r.reason)
            else:
                assert not _silent_pass(g), (name, m, r.reason)
        if m == 1:
            assert rep.results[0].status == ("fail" if name in ("huge", "large") else "pass"), rep.results[0].reason
