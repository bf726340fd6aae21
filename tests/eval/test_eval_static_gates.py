"""Gates are checked before any model loads: `eval --dry-run` on every example, unknown tasks and metrics with
did-you-mean (local YAMLs and lm-eval's built-in tasks), and the power of baseline gates in the plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_helpers import ROOT, run_llmspec

pytestmark = pytest.mark.eval

EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_dry_run_on_every_example(example: Path, tmp_path):
    """Old code: the README's main example (llama2-7b-lora-a100.toml) gated support_qa/f1, which no suite runs:
    check and lint passed it and `eval --dry-run` exited 2."""
    has_gates = "[[eval.gates]]" in example.read_text()
    run = run_llmspec("eval", str(example), "--dry-run", out=tmp_path / "o")
    assert "Traceback" not in run.stderr
    if "[eval]" in example.read_text():
        assert run.code == 0, run.stderr
        assert "plan:" in run.stdout or "python:" in run.stdout
        assert has_gates
    else:
        assert run.code == 2 and "has no [eval] section" in run.stderr


def test_dry_run_checks_builtin_task_metrics_with_did_you_mean(tmp_path):
    run = run_llmspec("eval", "examples/llama2-7b-lora-a100.toml", "--dry-run", "--set",
                      'eval.gates=[{metric="hellaswag/acc_nrom", min=0.5}]', out=tmp_path / "o")
    assert run.code == 2, run.stdout + run.stderr
    line = run.stderr.strip().splitlines()[-1]
    assert "task 'hellaswag' does not report metric 'acc_nrom'; did you mean 'acc_norm'?" in line
    assert "hellaswag reports: acc, acc,none, acc_norm, acc_norm,none" in line


@pytest.mark.parametrize("metric,message", [
    ("kb_mc/foo", "task 'kb_mc' does not report metric 'foo'"),
    ("kb_mc/brier_score", "task 'kb_mc' does not report metric 'brier_score'"),
    ("kb_mcq/acc", "names task 'kb_mcq', which none of the suites (smoke) runs; did you mean 'kb_mc'?"),
])
def test_unknown_gate_metric_is_found_before_the_model_loads(tmp_path, metric, message):
    """Old code: found only after the whole run ("no result for X", no list of valid names)."""
    run = run_llmspec("eval", "examples/tiny-base.toml", "-q", "--set", f'eval.gates=[{{metric="{metric}", min=0.1}}]',
                      out=tmp_path / "o")
    assert run.code == 2
    assert message in run.stderr and "tiny-base.toml:" in run.stderr
    assert not (tmp_path / "o" / "results.json").exists()


def test_dry_run_shows_the_power_of_each_baseline_gate(tmp_path):
    gates = 'eval.gates=[{metric="kb_mc/acc", max_drop=0.05}, {metric="kb_qa/f1", max_drop=0.05}]'
    run = run_llmspec("eval", "examples/tiny-finetuned.toml", "--dry-run", "--set", gates, out=tmp_path / "o")
    assert run.code == 0, run.stderr
    assert "kb_mc/acc: n=40, tango-score-cc at level 0.025: detects a drop of 0.363 with 80% power" in run.stdout
    assert "kb_qa/f1: n=40, paired-t at level 0.025" in run.stdout
    few = run_llmspec("eval", "examples/tiny-finetuned.toml", "--dry-run", "--set", gates, "--set", "eval.limit=8",
                      "--set", "eval.alpha=0.001", out=tmp_path / "o")
    assert "kb_mc/acc: n=8, tango-score-cc at level 0.0005: UNDECIDABLE" in few.stdout, few.stdout
