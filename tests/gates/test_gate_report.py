"""evaluate_gates on concrete results: thresholds, baseline verdicts and their reasons, refusals, warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gate_synth import PROVENANCE, results, shifted_pair

from llmspec.eval.gates import evaluate_gates
from llmspec.eval.metrics import load_metrics
from llmspec.eval.results_schema import GateResultModel, Results
from llmspec.spec.models import Gate

REG = load_metrics()


def _acc(values):
    return results({"acc": [float(v) for v in values]}, registry=REG)


def test_threshold_min_and_max_use_the_point_value():
    res = results({"acc": [1.0] * 7 + [0.0] * 3, "word_perplexity": [(-20.0, 10), (-30.0, 10)]}, registry=REG)
    rep = evaluate_gates(
        [{"metric": "t/acc", "min": 0.75}, {"metric": "t/word_perplexity", "max": 12.5}, {"metric": "t/acc", "min": 0.6, "max": 0.8}],
        res, None, 0.05, metrics=REG,
    )
    statuses = [(r.metric, r.status) for r in rep]
    assert statuses == [("t/acc", "fail"), ("t/word_perplexity", "pass"), ("t/acc", "pass")]
    assert rep.results[0].reason.startswith("t/acc = 0.7 < min 0.75")
    assert "exp(" not in rep.results[1].reason and "<= max 12.5" in rep.results[1].reason
    assert rep.exit_code == 1 and not rep.passed


def test_spec_gate_models_are_accepted_and_missing_baseline_fails_closed():
    """Old code: a max_drop gate without --baseline was 'skipped' and the run PASSED (exit 0)."""
    gates = [Gate(metric="t/acc", min=0.5, max_drop=0.02)]
    rep = evaluate_gates(gates, _acc([1, 1, 0, 1]), None, 0.05, metrics=REG)
    assert [(r.kind, r.status) for r in rep] == [("threshold", "pass"), ("baseline", "error")]
    assert not rep.passed and rep.exit_code == 2
    assert "no baseline given" in rep.results[1].reason and "--skip-gate t/acc" in rep.results[1].reason


def test_skipping_a_gate_is_an_explicit_choice_by_name():
    gates = [Gate(metric="t/acc", max_drop=0.02), Gate(metric="t/f1", max_drop=0.02)]
    res = results({"acc": [1.0, 0.0, 1.0], "f1": [0.5, 0.2, 0.9]}, registry=REG)
    rep = evaluate_gates(gates, res, None, 0.05, metrics=REG, skip={"t/acc"})
    assert [r.status for r in rep] == ["skipped", "error"] and rep.exit_code == 2
    assert rep.results[0].reason.startswith("skipped by --skip-gate: no baseline given")
    rep = evaluate_gates(gates, res, None, 0.05, metrics=REG, skip={"t/acc", "t/f1"})
    assert rep.passed and rep.exit_code == 0


def test_a_metric_the_run_lacks_is_an_error_that_lists_what_the_task_reports():
    rep = evaluate_gates([{"metric": "t/foo", "min": 0.1}], _acc([1, 0]), None, 0.05, metrics=REG)
    (r,) = rep.results
    assert r.status == "error" and rep.exit_code == 2
    assert r.reason == "no result for t/foo in this run; t reports: acc"
    assert evaluate_gates([{"metric": "t/foo", "min": 0.1}], _acc([1, 0]), None, 0.05, metrics=REG,
                          skip={"t/foo"}).passed


def test_direction_comes_from_the_metric_for_lower_is_better():
    rng = np.random.default_rng(0)
    words = rng.integers(10, 40, 300)
    base = [(-3.0 * w + rng.normal(0, 1), int(w)) for w in words]
    better = [(ll * 0.9, w) for ll, w in base]  # higher loglikelihood -> lower perplexity: an improvement
    worse = [(ll * 1.1, w) for ll, w in base]
    gate = [{"metric": "t/word_perplexity", "max_drop": 0.0}]
    b = results({"word_perplexity": base}, registry=REG)
    good = evaluate_gates(gate, results({"word_perplexity": better}, registry=REG), b, 0.05, metrics=REG, n_boot=500)
    bad = evaluate_gates(gate, results({"word_perplexity": worse}, registry=REG), b, 0.05, metrics=REG, n_boot=500)
    assert good.passed and good.results[0].diff > 0
    assert not bad.passed and bad.results[0].diff < 0 and bad.results[0].bound < 0
    assert bad.results[0].reason.startswith("proven drop beyond 0:")


def test_regression_verdict_reason_and_fields():
    rng = np.random.default_rng(1)
    cand, base = shifted_pair(rng, 2000, 0.7, 0.08)
    rep = evaluate_gates([{"metric": "t/acc", "max_drop": 0.02}], _acc(cand), _acc(base), 0.05, metrics=REG)
    (r,) = rep.results
    assert r.status == "fail" and r.method == "tango-score-cc" and r.mode == "regression"
    assert r.bound < -0.02 and r.diff == pytest.approx(float(np.mean(cand) - np.mean(base)))
    assert r.reason.startswith("proven drop beyond 0.02: change -0.0") and "alpha 0.05 over 1 baseline gates" in r.reason
    assert r.adjusted_alpha == 0.05 and r.p_value < 0.05 and r.n == 2000
    assert "\n" not in r.reason
    GateResultModel.model_validate(r.to_json())  # the results.json shape


def test_non_inferiority_requires_proof():
    rng = np.random.default_rng(2)
    cand, base = shifted_pair(rng, 3000, 0.7, 0.0)
    gate = {"metric": "t/acc", "max_drop": 0.03, "mode": "non_inferiority"}
    ok = evaluate_gates([gate], _acc(cand), _acc(base), 0.05, metrics=REG).results[0]
    assert ok.status == "pass" and ok.bound > -0.03 and ok.reason.startswith("non-inferior within 0.03")
    few = evaluate_gates([gate], _acc(cand[:40]), _acc(base[:40]), 0.05, metrics=REG).results[0]
    assert few.status == "fail" and "not shown" in few.reason
    assert any("detects with 80% power only drops of" in w for w in few.warnings)


def test_small_n_warning_in_regression_mode():
    rng = np.random.default_rng(3)
    cand, base = shifted_pair(rng, 30, 0.7, 0.0)
    rep = evaluate_gates([{"metric": "t/acc", "max_drop": 0.02}], _acc(cand), _acc(base), 0.05, metrics=REG)
    (r,) = rep.results
    assert r.status == "pass"  # nothing proven with 30 documents ...
    # ... and we say so, from the baseline's spread under the unpaired-variance assumption, not the observed one
    assert r.detectable_drop > 0.04 and any("detects with 80% power only drops of" in w for w in r.warnings)
    assert rep.warnings == r.warnings
    big_c, big_b = shifted_pair(rng, 20000, 0.7, 0.0, w=0.01)
    big = evaluate_gates([{"metric": "t/acc", "max_drop": 0.02}], _acc(big_c), _acc(big_b), 0.05, metrics=REG)
    assert big.results[0].warnings == []


def test_identical_outcomes_with_few_documents_still_warn():
    same = [1.0, 0.0, 1.0, 1.0, 0.0]
    r = evaluate_gates([{"metric": "t/acc", "max_drop": 0.05}], _acc(same), _acc(same), 0.05, metrics=REG).results[0]
    assert r.status == "pass" and r.warnings  # rule-of-three planning SE: 5 documents cannot detect 0.05


@pytest.mark.parametrize(
    "key,value,label",
    [
        ("task_version", "2.0", "task version"),
        ("config_hash", "sha256:ffff", "task config/prompt hash"),
        ("num_fewshot", 5, "few-shot setting"),
        ("limit", 100, "limit"),
        ("lm_eval_version", "0.4.9", "lm-eval version"),
    ],
)
def test_baseline_with_other_provenance_is_refused(key, value, label):
    cand = _acc([1, 0, 1, 1])
    base = results({"acc": [1.0, 0.0, 1.0, 1.0]}, provenance={**PROVENANCE, key: value}, registry=REG)
    rep = evaluate_gates([{"metric": "t/acc", "min": 0.1, "max_drop": 0.0}], cand, base, 0.05, metrics=REG)
    r = rep.results[1]
    assert r.status == "error" and r.kind == "baseline"
    assert r.reason.startswith("baseline not comparable: ") and label in r.reason and repr(value) in r.reason
    assert rep.exit_code == 2 and not rep.passed


def test_missing_metric_and_missing_baseline_metric_are_errors():
    rep = evaluate_gates([{"metric": "t/f1", "min": 0.1}], _acc([1, 0]), None, 0.05, metrics=REG)
    assert rep.results[0].status == "error" and "no result for t/f1" in rep.results[0].reason
    other = results({"acc_norm": [1.0, 0.0]}, registry=REG)
    rep = evaluate_gates([{"metric": "t/acc", "max_drop": 0.0}], _acc([1, 0]), other, 0.05, metrics=REG)
    assert rep.results[0].status == "error" and "baseline has no t/acc" in rep.results[0].reason


def test_samples_pair_by_doc_hash_not_by_position():
    rng = np.random.default_rng(4)
    cand, base = shifted_pair(rng, 500, 0.7, 0.1)
    c, b = _acc(cand), _acc(base)
    ps = b["tasks"]["t"]["metrics"]["acc"]["per_sample"]
    b["tasks"]["t"]["metrics"]["acc"]["per_sample"] = dict(list(reversed(list(ps.items()))) + [("extra", 1.0)])
    r1 = evaluate_gates([{"metric": "t/acc", "max_drop": 0.0}], c, _acc(base), 0.05, metrics=REG).results[0]
    r2 = evaluate_gates([{"metric": "t/acc", "max_drop": 0.0}], c, b, 0.05, metrics=REG).results[0]
    assert (r1.p_value, r1.bound) == (r2.p_value, r2.bound)
    assert r2.warnings and "1 documents without a partner" in r2.warnings[0]


def test_percent_drop_is_relative_to_the_baseline():
    words = [20] * 400
    rng = np.random.default_rng(5)
    base = [(-60.0 + rng.normal(0, 2), w) for w in words]  # perplexity ~ e^3
    cand = [(ll - 0.4, w) for ll, w in base]  # exp(0.02) - 1 = 2.02% higher perplexity, no noise in the change
    b, c = results({"word_perplexity": base}, registry=REG), results({"word_perplexity": cand}, registry=REG)
    tight = evaluate_gates([{"metric": "t/word_perplexity", "max_drop": 1.0, "drop_unit": "percent"}], c, b, 0.05, metrics=REG, n_boot=300)
    loose = evaluate_gates([{"metric": "t/word_perplexity", "max_drop": 3.0, "drop_unit": "percent"}], c, b, 0.05, metrics=REG, n_boot=300)
    assert tight.results[0].diff == pytest.approx(-(np.exp(0.02) - 1), rel=1e-9)
    assert tight.results[0].status == "fail" and "beyond 1%" in tight.results[0].reason
    assert loose.results[0].status == "pass"


def test_report_round_trips_through_the_results_schema():
    rng = np.random.default_rng(6)
    cand, base = shifted_pair(rng, 200, 0.7, 0.0)
    c = _acc(cand)
    rep = evaluate_gates([{"metric": "t/acc", "min": 0.5, "max_drop": 0.02}], c, _acc(base), 0.05, metrics=REG)
    c["gates"] = rep.to_json()
    parsed = Results.model_validate(json.loads(json.dumps(c)))
    assert [g.kind for g in parsed.gates] == ["threshold", "baseline"]
    assert len(list(rep)) == len(rep) == 2
    # deterministic: the same inputs give the same report
    again = evaluate_gates([{"metric": "t/acc", "min": 0.5, "max_drop": 0.02}], c, _acc(base), 0.05, metrics=REG)
    assert again.to_json() == rep.to_json()


def test_a_perfect_baseline_does_not_claim_perfect_power():
    """Old code and the first cut of the new one: power from the observed spread. A baseline at accuracy 1.0
    (kb_tickets: texts that contain their label) has p(1-p) = 0, so an 8-point drop at n = 60 with 10 gates
    passed without a word. The planning sigma for values in [0, 1] is now 0.5."""
    base = [1.0] * 60
    cand = [1.0] * 55 + [0.0] * 5
    gates = [{"metric": "t/acc", "max_drop": 0.05}] * 10
    rep = evaluate_gates(gates, _acc(cand), _acc(base), 0.05, metrics=REG)
    r = rep.results[0]
    assert r.status == "pass" and r.detectable_drop > 0.3
    assert any("detects with 80% power only drops of" in w for w in r.warnings)


def test_summary_shows_each_gates_power_and_that_bounds_are_marginal():
    """summary.md, as markdown-it-py renders it: a baseline gate's row carries the drop it detects with 80% power
    (the detectable_drop results.json stores, in the gate's units), a threshold gate's cell is empty, and a note
    under the table says the bounds are marginal, not simultaneous. Without a baseline gate there is no note."""
    from markdown_it import MarkdownIt

    from llmspec.eval.outputs import summary

    rng = np.random.default_rng(7)
    cand, base = shifted_pair(rng, 400, 0.7, 0.0)
    c = _acc(cand)
    gates = [{"metric": "t/acc", "min": 0.5}, {"metric": "t/acc", "max_drop": 0.05}]
    c["gates"] = evaluate_gates(gates, c, _acc(base), 0.05, metrics=REG).to_json()
    drop = c["gates"][1]["detectable_drop"]
    assert 0.05 < drop < 0.2
    html = MarkdownIt("commonmark").enable("table").render(summary(c, "PASSED"))
    assert "<th style=\"text-align:right\">detects (80% power)</th>" in html
    assert f"<td style=\"text-align:right\">{drop:.3g}</td>" in html
    assert "<td style=\"text-align:right\"></td>" in html  # the threshold gate
    assert "marginal one-sided bounds" in html and "not simultaneous confidence intervals" in html
    c["gates"] = c["gates"][:1]
    assert "marginal" not in summary(c, "PASSED")


def test_console_tables_show_each_gates_power_and_that_bounds_are_marginal(capsys):
    """The console output of `llmspec eval` (without -q): the gate table gets the power column and the note when a
    baseline gate is present, and neither when there is none."""
    from llmspec.cli.eval import _print_table

    rng = np.random.default_rng(8)
    cand, base = shifted_pair(rng, 400, 0.7, 0.0)
    c = _acc(cand)
    c["gates"] = evaluate_gates([{"metric": "t/acc", "max_drop": 0.05}], c, _acc(base), 0.05, metrics=REG).to_json()
    _print_table(c)
    out = " ".join(capsys.readouterr().out.split())
    assert "detects (80% power)" in out and f"{c['gates'][0]['detectable_drop']:.3g}" in out
    assert "not simultaneous confidence intervals" in out
    c["gates"] = evaluate_gates([{"metric": "t/acc", "min": 0.5}], c, None, 0.05, metrics=REG).to_json()
    _print_table(c)
    out = capsys.readouterr().out
    assert "detects" not in out and "simultaneous" not in out
