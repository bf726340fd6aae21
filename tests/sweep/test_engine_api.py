"""The engines' wiring with real Optuna and real Ray objects, and a training function that needs no torch:
samplers per method, define-by-run conditions, refused points, constraints, and Ray's feasible-only searcher."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmspec.spec.loader import load_spec

TINY = Path(__file__).parent / "data" / "tiny-lr-sweep.toml"


def _spec(tmp_path: Path, sweep: str):
    text = TINY.read_text(encoding="utf-8")
    base = text[: text.index("[sweep]")]
    path = tmp_path / "s.toml"
    path.write_text(base + sweep, encoding="utf-8")
    # the suites beside it: `sweep run` checks the objective against them before any trial (SWP003)
    shutil.copytree(TINY.parent / "suites", tmp_path / "suites", dirs_exist_ok=True)
    return load_spec(path)


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trials.jsonl").read_text(encoding="utf-8").splitlines()]


def _score(run) -> float:  # a deterministic objective: lower learning rates score better
    return run.spec.training.learning_rate * 1000


GRID = '''
[sweep]
method = "grid"

[sweep.objective]
metric = "kb_val/word_perplexity"
direction = "minimize"

[sweep.parameters."training.learning_rate"]
values = [1e-3, 3e-4, 1e-4]

[sweep.parameters."training.micro_batch_size"]
values = [4, 8192]
'''


def test_optuna_grid_runs_each_feasible_point_once(tmp_path) -> None:
    pytest.importorskip("optuna", reason="the sweep-optuna extra is not installed")
    from llmspec.sweep import optuna as engine

    out = tmp_path / "out"
    result = engine.run(_spec(tmp_path, GRID), _score, out, n_trials=10)
    rows = _rows(out)
    complete = [r for r in rows if r["state"] == "complete"]
    refused = [r for r in rows if r["state"] == "infeasible"]
    assert sorted(r["overrides"]["training.learning_rate"] for r in complete) == [1e-4, 3e-4, 1e-3]
    assert all(r["overrides"]["training.micro_batch_size"] == 4 for r in complete)
    assert len(refused) == 3 and all(r["codes"] == ["MEM001"] for r in refused)
    assert result["ran"] == 3 and result["refused"] == 3
    assert result["best"]["overrides"]["training.learning_rate"] == 1e-4
    assert isinstance(result["study"].sampler, __import__("optuna").samplers.GridSampler)


TPE = '''
[sweep]
method = "tpe"
seed = 1

[sweep.objective]
metric = "kb_val/word_perplexity"
direction = "minimize"

[sweep.budget]
max_trials = 8

[sweep.parameters."training.method"]
values = ["full", "lora"]

[sweep.parameters."training.learning_rate"]
distribution = "log_uniform"
low = 1e-5
high = 1e-2

[sweep.parameters."training.lora.rank"]
distribution = "int"
low = 4
high = 32
step = 4
when = { "training.method" = "lora" }
'''


def test_optuna_tpe_with_condition(tmp_path) -> None:
    optuna = pytest.importorskip("optuna", reason="the sweep-optuna extra is not installed")
    from llmspec.sweep import optuna as engine

    out = tmp_path / "out"
    result = engine.run(_spec(tmp_path, TPE), _score, out)
    study = result["study"]
    assert isinstance(study.sampler, optuna.samplers.TPESampler)
    assert result["ran"] == 8 and result["refused"] == 0
    for trial in study.trials:
        assert 1e-5 <= trial.params["training.learning_rate"] <= 1e-2
        # define-by-run: the rank exists exactly when the method is lora
        assert ("training.lora.rank" in trial.params) == (trial.params["training.method"] == "lora")
        if "training.lora.rank" in trial.params:
            assert trial.params["training.lora.rank"] % 4 == 0
        assert trial.constraints == {"llmspec_infeasible": 0.0}
    for row in _rows(out):
        spec = load_spec(row["spec_file"])
        assert spec.training.method == row["overrides"]["training.method"]


def test_ray_searcher_suggests_only_feasible_points(tmp_path) -> None:
    pytest.importorskip("ray.tune", reason="the sweep-ray extra is not installed")
    pytest.importorskip("optuna", reason="tpe on Ray uses OptunaSearch (the sweep-optuna extra)")
    from llmspec.sweep.engine import Sweeper
    from llmspec.sweep.ray import FeasibleSearcher, _inner_tpe

    text = TPE.replace('values = ["full", "lora"]', 'values = ["full", "lora"]\n\n'
                       '[sweep.parameters."training.micro_batch_size"]\nvalues = [4, 8192]')
    sweeper = Sweeper(_spec(tmp_path, text), tmp_path / "out", "ray")
    searcher = FeasibleSearcher(sweeper, None, _inner_tpe(sweeper, "objective", "min"), "objective", "min")
    configs = [searcher.suggest(f"t{i}") for i in range(6)]
    for i, config in enumerate(configs):
        assert config["overrides"]["training.micro_batch_size"] == 4
        searcher.on_trial_complete(f"t{i}", {"objective": float(i)})
    refused = [r for r in _rows(tmp_path / "out") if r["state"] == "infeasible"]
    assert refused and searcher.refused == len(refused)
    assert all(r["overrides"]["training.micro_batch_size"] == 8192 for r in refused)


GRID_CONDITION = '''
[sweep]
method = "grid"

[sweep.objective]
metric = "kb_val/word_perplexity"
direction = "minimize"

[sweep.parameters."training.method"]
values = ["full", "lora"]

[sweep.parameters."training.lora.rank"]
values = [8, 16, 32]
when = { "training.method" = "lora" }
'''


def test_optuna_grid_with_condition_runs_each_point_once(tmp_path) -> None:
    pytest.importorskip("optuna", reason="the sweep-optuna extra is not installed")
    from llmspec.sweep import optuna as engine

    out = tmp_path / "out"
    result = engine.run(_spec(tmp_path, GRID_CONDITION), _score, out, n_trials=20)
    ran = sorted(json.dumps(r["overrides"], sort_keys=True) for r in _rows(out) if r["state"] == "complete")
    assert len(ran) == len(set(ran)) == 4  # full once, lora with each of three ranks
    assert result["ran"] == 4
