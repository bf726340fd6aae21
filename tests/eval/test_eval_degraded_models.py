"""Real degraded copies of the demo model, judged through `llmspec eval --baseline` against the fine-tuned run.

Copies: an identical file copy, a re-serialised copy (loaded and saved again by transformers), and Gaussian noise at
three scales relative to each weight tensor's own standard deviation: SMALL, DROP10 (found by measurement: the scale
at which multiple-choice accuracy drops about 10 points, see SCALES) and LARGE.

The baseline is the demo run shared with test_eval_demo.py (`llmspec eval examples/tiny-finetuned.toml -q`). Each
copy runs once through the CLI: the DROP10 copy with the demo spec's own 4 gates made baseline gates (m = 4,
5-point / 5% margins: what the smoke suite was sized for, suites/README.md), the others with m = 20 baseline gates
(every gateable metric of the smoke suite, some twice). The same real results are then judged again with m = 1, 4,
5, 10 and 20 gates by the library's evaluate_gates.

At 2,000 documents per gated task and 400 perplexity documents every gate is decidable at alpha/20. The identical
copies have the fine-tuned model's bytes, so lm-eval's response cache (keyed by a hash of the model files) serves
their requests; their verdicts are still computed by `llmspec eval --baseline`.

What the issue measured on the old 40-item suite: a 10-point accuracy drop was caught by 5.6% of gates at m = 5, and
with several perplexity gates a copy with +66% word perplexity passed.
"""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
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
# the demo spec's gates (examples/tiny-finetuned.toml), each made a baseline gate with a 5-point (5%) margin
DEMO4 = [("kb_perplexity/word_perplexity", "percent"), ("kb_mc/acc", "points"), ("kb_qa/f1", "points"),
         ("kb_tickets/macro_f1", "points")]
# Noise scales, found by measurement: kb_mc accuracy (2,000 items; the fine-tuned model scores 1.0) of copies made
# with seed 200: 0.05 -> 0.9935, 0.1 -> 0.973, 0.2 -> 0.9475, 0.3 -> 0.9385, 0.4 -> 0.9335, 0.5 -> 0.916,
# 0.53 -> 0.9135, 0.56 -> 0.899, 0.58 -> 0.891, 0.6 -> 0.866, 0.7 -> 0.6545.
SCALES = {"small": 0.05, "drop10": 0.56, "large": 1.0}
SEEDS = {"small": 100, "drop10": 200, "large": 102}


def _gates_arg(gates) -> str:
    items = [f'{{metric="{m}", max_drop={0.05 if u == "points" else 5.0}, drop_unit="{u}"}}' for m, u in gates]
    return "eval.gates=[" + ", ".join(items) + "]"


def _gate_models(gates):
    from llmspec.spec.models import Gate

    return [Gate(metric=g, max_drop=0.05 if u == "points" else 5.0, drop_unit=u) for g, u in gates]


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
    for name, scale in SCALES.items():
        out[name] = _noisy_copy(src, root / name, scale, SEEDS[name])
    return out


@pytest.fixture(scope="module")
def runs(copies, demo_runs, tmp_path_factory):
    from eval_helpers import run_llmspec

    root = tmp_path_factory.mktemp("degraded-runs")
    base = demo_runs["tiny-finetuned"]
    assert base.code == 0, base.stderr
    baseline = str(base.out / "results.json")
    def run(name: str):
        quiet, gates = ((), DEMO4) if name == "drop10" else (("-q",), GATES20)
        return run_llmspec("eval", "examples/tiny-finetuned.toml", *quiet, "--model", str(copies[name]),
                           "--baseline", baseline, "--set", _gates_arg(gates), out=root / name,
                           env={"COLUMNS": "200"})  # the console table's header on one line

    with ThreadPoolExecutor(max_workers=len(copies)) as pool:  # independent CLI processes, run side by side
        out = dict(zip(copies, pool.map(run, copies)))
    return out, json.loads(Path(baseline).read_text())


def _printed_bound_agrees(g: dict) -> None:
    from llmspec.eval import paired

    assert g["status"] in ("pass", "fail"), g["reason"]  # every gate is decidable at this n
    word = "upper" if g["mode"] == "regression" else "lower"
    assert re.search(rf"{word} bound \S+", g["reason"]), g["reason"]
    rejected = paired.rejects(g["bound"], g["margin"], g["mode"])
    assert (g["status"] == "fail") == rejected, g["reason"]
    assert (g["p_value"] <= g["adjusted_alpha"]) == rejected, g


def _rejudge(run, baseline, gates):
    from llmspec.eval.gates import evaluate_gates

    return evaluate_gates(_gate_models(gates), run.results, baseline, 0.05, seed=1234).results


def _far_beyond(g: dict) -> bool:
    """The observed change is worse than twice the gate's margin (a drop "far beyond the margin")."""
    return g["diff"] <= -2 * g["margin"]


DEMO_METRICS = [m for m, _ in DEMO4]


def test_large_noise_fails_every_gate_far_beyond_its_margin_at_m_20(runs):
    """Every gate whose observed drop is beyond twice its margin fails, and so do the demo spec's four metrics. A
    gate may pass only on a change within that: measured at this noise, byte_perplexity worsens by 3.1% and
    bits_per_byte by 2.1%, inside their 5% margins, and they pass with bounds that say so (word perplexity: +17%,
    fails)."""
    by_name, _ = runs
    run = by_name["large"]
    assert len(run.results["gates"]) == 20
    for g in run.results["gates"]:
        _printed_bound_agrees(g)
        if _far_beyond(g) or g["metric"] in DEMO_METRICS:
            assert g["status"] == "fail", g["reason"]
        else:
            assert g["diff"] > -2 * g["margin"], g
    assert run.code == 1 and run.results["verdict"] == "FAILED"


@pytest.mark.parametrize("name", ["identical", "reserialised"])
def test_identical_copies_pass_every_gate(runs, name):
    by_name, _ = runs
    run = by_name[name]
    assert len(run.results["gates"]) == 20
    for g in run.results["gates"]:
        _printed_bound_agrees(g)
        assert g["status"] == "pass" and g["diff"] == 0.0, g["reason"]
    assert run.code == 0 and run.results["verdict"] == "PASSED"


def test_small_noise_verdicts_match_their_bounds(runs):
    by_name, _ = runs
    for g in by_name["small"].results["gates"]:
        _printed_bound_agrees(g)


@pytest.mark.parametrize("m", [1, 4, 5, 10, 20])
def test_the_same_real_results_with_fewer_gates(runs, m):
    """The same real results judged with the first m gates by the library's evaluate_gates: large noise fails every
    gate far beyond its margin and every demo metric's gate, identical copies pass every gate, and every verdict
    matches its bound (word perplexity first: the gate of the issue)."""
    by_name, baseline = runs
    gates = [GATES20[9], *GATES20[:9], *GATES20[10:]][:m]
    for name in ("large", "identical", "reserialised", "small"):
        for r in _rejudge(by_name[name], baseline, gates):
            _printed_bound_agrees(r.to_json())
            if name == "large" and (_far_beyond(r.to_json()) or r.metric in DEMO_METRICS):
                assert r.status == "fail", (name, m, r.reason)
            elif name in ("identical", "reserialised"):
                assert r.status == "pass", (name, m, r.reason)


def _disagreement(cand: dict, base: dict, task: str, metric: str) -> float:
    """Share of documents on which the two runs' 0/1 scores differ (the paired test's discordant share)."""
    a = cand["tasks"][task]["metrics"][metric]["per_sample"]
    b = base["tasks"][task]["metrics"][metric]["per_sample"]
    assert len(a) == len(b) == 2000
    return sum(x != y for x, y in zip(a, b)) / len(a)


def test_a_ten_point_accuracy_drop_fails_the_demo_gates(runs):
    """The copy whose multiple-choice accuracy really dropped about 10 points, judged with the demo spec's own 4
    gates as baseline gates (the m and margins the suite was sized for): its accuracy gate fails, and so does
    every other gate whose metric dropped by 10 points or more; every verdict matches its bound, also at m = 20.
    The real disagreement rate is at most the conservative planning variance's (2 sigma^2 = 0.5), so the gate's
    power at this n is at least the planned 80%."""
    by_name, baseline = runs
    run = by_name["drop10"]
    gates = {g["metric"]: g for g in run.results["gates"]}
    acc = gates["kb_mc/acc"]
    assert -0.13 <= acc["diff"] <= -0.08, acc  # a real drop of about 10 points
    assert acc["status"] == "fail" and acc["n"] == 2000 and acc["detectable_drop"] <= 0.10, acc
    q = _disagreement(run.results, baseline, "kb_mc", "acc")
    assert q - acc["diff"] ** 2 <= 0.5, q  # the variance of the paired difference, against 2 sigma^2
    for g in gates.values():
        _printed_bound_agrees(g)
        if g["drop_unit"] == "points" and g["diff"] <= -0.10:
            assert g["status"] == "fail", g["reason"]
    assert run.code == 1 and run.results["verdict"] == "FAILED"
    for r in _rejudge(run, baseline, GATES20):
        _printed_bound_agrees(r.to_json())
        if r.metric in ("kb_mc/acc", "kb_mc/acc,none"):
            assert r.status == "fail", r.reason
    # the printed output (no -q): each gate's power and the note that the bounds are marginal
    assert "detects (80% power)" in run.stdout and "not simultaneous" in run.stdout
    summary = (run.out / "summary.md").read_text()
    assert "| detects (80% power) |" in summary and "not simultaneous confidence intervals" in summary
