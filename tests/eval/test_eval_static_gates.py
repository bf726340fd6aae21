"""Gates are checked before any model loads: `eval --dry-run` on every example, unknown tasks and metrics with
did-you-mean (local YAMLs and lm-eval's built-in tasks), and the power of baseline gates in the plan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from eval_helpers import ROOT, run_llmspec

pytestmark = pytest.mark.eval

EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.toml") if "[model]" in p.read_text(encoding="utf-8"))
"""Every example spec, in subfolders too (examples/sweeps has gates); base files without [model] are fragments."""


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


GATES2 = 'eval.gates=[{metric="kb_mc/acc", max_drop=0.05}, {metric="kb_qa/f1", max_drop=0.05}]'


def _drop_at(n: int, level: float) -> str:
    """The power formula computed here, independently of llmspec: margin + (z_(1-level) + z_0.8) sqrt(2 * 0.25 / n)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf
    return f"{0.05 + (z(1 - level) + z(0.8)) * (2 * 0.25 / n) ** 0.5:.3g}"


def test_dry_run_shows_the_power_of_each_baseline_gate(tmp_path):
    run = run_llmspec("eval", "examples/tiny-finetuned.toml", "--dry-run", "--set", GATES2, out=tmp_path / "o")
    assert run.code == 0, run.stderr
    drop = _drop_at(2000, 0.025)
    assert drop == "0.0943"
    assert f"kb_mc/acc: n=2000, tango-score-cc at level 0.025: detects a drop of {drop} with 80% power" in run.stdout
    assert f"kb_qa/f1: n=2000, paired-t at level 0.025: detects a drop of {drop} with 80% power" in run.stdout
    few = run_llmspec("eval", "examples/tiny-finetuned.toml", "--dry-run", "--set", GATES2, "--set", "eval.limit=8",
                      "--set", "eval.alpha=0.001", out=tmp_path / "o")
    assert "kb_mc/acc: n=8, tango-score-cc at level 0.0005: UNDECIDABLE" in few.stdout, few.stdout


def test_report_shows_the_power_of_each_baseline_gate(tmp_path):
    """`llmspec report` on a spec with baseline gates: the same n, test, level and detectable drop as --dry-run,
    judged on the Markdown as markdown-it-py renders it."""
    from markdown_it import MarkdownIt

    out = tmp_path / "review.md"
    run = run_llmspec("report", "examples/tiny-finetuned.toml", "--set", GATES2, "--set", "eval.limit=20",
                      "-o", str(out))
    assert run.code == 0, run.stderr
    html = MarkdownIt("commonmark").enable("table").render(out.read_text())
    assert "Eval gates: power by design" in html
    drop = _drop_at(20, 0.025)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", html, re.S)]
    for metric, test in (("kb_mc/acc", "tango-score-cc"), ("kb_qa/f1", "paired-t")):
        assert [f"<code>{metric}</code>", "20", test, "0.025", f"a drop of {drop}"] in rows, rows
    undecidable = run_llmspec("report", "examples/tiny-finetuned.toml", "--set", GATES2, "--set", "eval.limit=8",
                              "--set", "eval.alpha=0.001", "-o", str(out))
    assert undecidable.code == 0
    assert "UNDECIDABLE (smallest reachable p-value" in out.read_text()

