"""`llmspec sweep run` / `report` usage errors: one line, exit 2, no traceback (real CLI, real Optuna)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sweep_helpers import ROOT

from llmspec.cli import cli

TINY = ROOT / "tests" / "sweep" / "data" / "tiny-lr-sweep.toml"


def _run(*args: str):
    return CliRunner().invoke(cli, ["sweep", *args])


@pytest.mark.parametrize("target,words", [
    ("no_colon", "expected MODULE:FUNCTION"),
    ("no_such_module_xyz:train", "cannot import it (ModuleNotFoundError"),
    ("llmspec.sweep.demo:missing", "cannot import it (AttributeError"),
])
def test_bad_train_target(tmp_path, target, words) -> None:
    pytest.importorskip("optuna", reason="the sweep-optuna extra is not installed")
    result = _run("run", str(TINY), "--train", target, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llmspec sweep run: --train") and words in lines[0]


def test_run_needs_an_objective(tmp_path, example_text) -> None:
    pytest.importorskip("optuna", reason="the sweep-optuna extra is not installed")
    start = example_text.index("[sweep.objective]")
    end = example_text.index("[sweep.budget]")
    path = tmp_path / "s.toml"
    path.write_text(example_text[:start] + example_text[end:], encoding="utf-8")
    result = _run("run", str(path), "--train", "llmspec.sweep.demo:train_tiny", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.output.strip() == ('llmspec sweep run: `llmspec sweep run` needs [sweep.objective] metric = '
                                     '"task/metric" (what to optimise)')


@pytest.mark.parametrize("engine", ["optuna", "ray"])
def test_run_refuses_an_objective_its_suite_does_not_report(tmp_path, engine) -> None:
    """Found before any trial trains (it used to surface after trial 0, with Optuna's traceback)."""
    pytest.importorskip("optuna" if engine == "optuna" else "ray", reason=f"the sweep-{engine} extra is not installed")
    out = tmp_path / "o"
    result = _run("run", str(TINY), "--engine", engine, "--trust-suite-code", "--train",
                  "llmspec.sweep.demo:train_tiny", "--out", str(out), "--set", "sweep.objective.metric=kb_val/nosuch")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0] == ("llmspec sweep run: <--set sweep.objective.metric>:1:1: the sweep objective 'kb_val/nosuch': "
                        "task 'kb_val' does not report metric 'nosuch'; kb_val reports: word_perplexity, "
                        "word_perplexity,none")
    assert not list(out.glob("trial-*"))  # nothing trained


def test_a_trial_error_stops_optuna_with_one_line(tmp_path) -> None:
    """A user-fixable problem inside a trial (the training function returns no objective) ends the study with one
    line, exit 2, and no Optuna traceback. A subprocess: Optuna's log handler writes to the real stderr."""
    pytest.importorskip("optuna", reason="the sweep-optuna extra is not installed")
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "sweep")])}
    proc = subprocess.run(
        [sys.executable, "-m", "llmspec", "sweep", "run", str(TINY), "--engine", "optuna", "--trust-suite-code",
         "--train", "sweep_helpers:train_without_objective", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert (proc.stdout + proc.stderr).strip().splitlines() == [
        "llmspec sweep run: the training function returned ['loss'], without the objective 'kb_val/word_perplexity'"]


def test_report_of_missing_run(tmp_path) -> None:
    result = _run("report", str(tmp_path / "nothing"))
    assert result.exit_code == 2
    assert result.output.strip() == (f"llmspec sweep report: {tmp_path / 'nothing' / 'trials.jsonl'}: no such file; "
                                     f"run `llmspec sweep run` with --out {tmp_path / 'nothing'} first")


def test_report_json_and_broken_record(tmp_path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    rows = [
        {"engine": "optuna", "spec": "s.toml", "direction": "maximize", "metric": "t/acc", "number": 0,
         "state": "complete", "value": 0.5, "overrides": {"training.learning_rate": 1e-4}},
        {"engine": "optuna", "spec": "s.toml", "direction": "maximize", "metric": "t/acc", "number": 1,
         "state": "complete", "value": 0.7, "overrides": {"training.learning_rate": 3e-4}},
        {"engine": "optuna", "spec": "s.toml", "direction": "maximize", "metric": "t/acc", "number": 2,
         "state": "infeasible", "value": None, "overrides": {"training.learning_rate": 1e-3}},
        {"engine": "optuna", "spec": "s.toml", "direction": "maximize", "metric": "t/acc", "number": 1,
         "state": "holdout", "value": 0.62, "validation_value": 0.7, "gap": -0.08},
    ]
    (out / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data = json.loads(_run("report", str(out), "--format", "json").output)
    assert [r["number"] for r in data["best"]] == [1, 0]
    assert data["states"] == {"complete": 2, "infeasible": 1}
    text = _run("report", str(out)).output
    assert "1. trial 1: 0.7  (training.learning_rate=0.0003)" in text
    assert "(gap -0.08; worse on the held-out suite)" in text
    (out / "trials.jsonl").write_text("{not json\n", encoding="utf-8")
    broken = _run("report", str(out))
    assert broken.exit_code == 2 and "trials.jsonl:1:2: not JSON" in broken.output

