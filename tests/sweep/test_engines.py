"""Real sweeps on the real engines: an Optuna study (local journal storage) and a Ray Tune run (local Ray,
num_cpus=2), each over tests/sweep/data/tiny-lr-sweep.toml with llmspec.sweep.demo:train_tiny.

Each trial trains the demo tiny model for 12 CPU steps with the swept learning rate, reports held-out
perplexity at ASHA's rungs (steps 4 and 8), and is scored by `llmspec eval` on the validation suite; the winner
is confirmed on the held-out suite. Points with micro_batch_size = 8192 do not fit the L4 (MEM001) and must be
refused without running. Trials run one at a time, so ASHA's decisions do not depend on timing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sweep_helpers import ROOT

from llmspec.cli import cli
from llmspec.spec.loader import load_spec

SPEC = ROOT / "tests" / "sweep" / "data" / "tiny-lr-sweep.toml"
pytestmark = [pytest.mark.eval, pytest.mark.slow]


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trials.jsonl").read_text(encoding="utf-8").splitlines()]


def _check_records(out: Path, engine: str) -> list[dict]:
    rows = _rows(out)
    assert {r["engine"] for r in rows} == {engine}
    refused = [r for r in rows if r["state"] == "infeasible"]
    assert refused and all(r["codes"] == ["MEM001"] and r["overrides"]["training.micro_batch_size"] == 8192
                           for r in refused)
    for r in refused:  # pruned without running: no trial directory, no spec, no checkpoint
        assert not (out / f"trial-{r['number']:04d}").exists()
    complete = [r for r in rows if r["state"] == "complete"]
    stopped = [r for r in rows if r["state"] == "stopped-early"]
    assert complete, rows
    assert stopped, "ASHA stopped no trial"
    for r in complete:
        spec = load_spec(r["spec_file"])  # the trial's concrete spec is a valid spec file of its own
        assert spec.sweep is None and spec.training is not None
        assert spec.training.learning_rate == r["overrides"]["training.learning_rate"]
        assert (Path(r["spec_file"]).parent / "checkpoint" / "model.safetensors").is_file()
        assert r["value"] > 1 and [step for step, _ in r["reports"]] == [4, 8, 12]
        results = json.loads((Path(r["spec_file"]).parent / "eval" / "results.json").read_text(encoding="utf-8"))
        assert results["tasks"]["kb_val"]["metrics"]["word_perplexity"]["value"] == pytest.approx(r["value"])
    hold = [r for r in rows if r["state"] == "holdout"]
    assert len(hold) == 1 and hold[0]["metric"] == "kb_test/word_perplexity"
    best = min(complete, key=lambda r: r["value"])
    assert hold[0]["number"] == best["number"]
    assert hold[0]["gap"] == pytest.approx(hold[0]["value"] - best["value"])
    return rows


def test_optuna_study(tmp_path) -> None:
    pytest.importorskip("optuna", reason="the sweep-optuna extra is not installed: pip install '.[sweep-optuna]'")
    out = tmp_path / "optuna"
    result = CliRunner().invoke(cli, ["sweep", "run", str(SPEC), "--trust-suite-code", "--engine", "optuna", "--train",
                                      "llmspec.sweep.demo:train_tiny", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _check_records(out, "optuna")
    ran = [r for r in rows if r["state"] in ("complete", "stopped-early")]
    assert len(ran) == 4  # budget.max_trials; refused points do not count
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="llmspec-tiny-sweep",
                              storage=JournalStorage(JournalFileBackend(str(out / "optuna.journal"))))
    by_number = {t.number: t for t in study.trials}
    for r in rows:
        if r["state"] == "infeasible":
            trial = by_number[r["number"]]
            assert trial.state == optuna.trial.TrialState.PRUNED and trial.constraints == {"llmspec_infeasible": 1.0}
        elif r["state"] == "complete":
            assert by_number[r["number"]].value == pytest.approx(r["value"])
            assert by_number[r["number"]].constraints == {"llmspec_infeasible": 0.0}
    report = CliRunner().invoke(cli, ["sweep", "report", str(out)])
    assert report.exit_code == 0
    assert "held-out check of trial" in report.output and "objective: minimize kb_val/word_perplexity" in report.output


def test_ray_tune(tmp_path) -> None:
    pytest.importorskip("ray.tune", reason="the sweep-ray extra is not installed: pip install '.[sweep-ray]'")
    out = tmp_path / "ray"
    result = CliRunner().invoke(cli, ["sweep", "run", str(SPEC), "--trust-suite-code", "--engine", "ray", "--train",
                                      "llmspec.sweep.demo:train_tiny", "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    rows = _check_records(out, "ray")
    ran = [r for r in rows if r["state"] in ("complete", "stopped-early")]
    assert len(ran) == 4  # num_samples: refused points never became trials
    assert "ray: 4 trials ran" in result.output
