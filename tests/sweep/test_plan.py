"""`llmspec sweep plan` through the real CLI, on real spec files."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sweep_helpers import EXAMPLE

from llmspec.cli import cli
from llmspec.spec.loader import load_spec
from llmspec.sweep.fast import FastPath
from llmspec.sweep.space import points


def _plan(*args: str):
    return CliRunner().invoke(cli, ["sweep", "plan", *args])


def test_example_plan_text() -> None:
    result = _plan(str(EXAMPLE))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "192 points (grid) over 5 parameters" in out
    assert "12 feasible; 84 do not fit (MEM001 84); 96 over the run budget (BUD001 96)" in out
    assert "training.micro_batch_size          4   (swept: 4 .. 16 (4 values))" in out
    assert "MEM001 error: The training run does not fit in its GPUs' memory for 84 of 192 points" in out
    assert "feasible part: 12 trials" in out


def test_example_plan_json_lists_every_point() -> None:
    result = _plan(str(EXAMPLE), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["counts"]["points"] == len(data["points"]) == 192
    verdicts = {p["verdict"] for p in data["points"]}
    assert verdicts == {"feasible", "does-not-fit", "over-budget"}
    for p in data["points"]:
        assert set(p["overrides"]) == {"training.learning_rate", "training.lora.rank", "training.micro_batch_size",
                                       "training.seq_len", "training.activation_checkpointing"}
        est = p["estimate"]
        if p["verdict"] == "does-not-fit":
            assert est["training_bytes_per_gpu"] > est["capacity_bytes"]
            assert p["codes"][0] == "MEM001"
        if p["verdict"] == "feasible":
            assert est["training_bytes_per_gpu"] <= est["capacity_bytes"] and est["gpu_hours"] <= 6.5
    total = sum(p["estimate"]["gpu_hours"] for p in data["points"] if p["verdict"] == "feasible")
    assert abs(total - data["feasible_totals"]["gpu_hours"]) < 1e-6


def test_no_feasible_point_exits_1(tmp_path, example_text) -> None:
    path = tmp_path / "s.toml"
    path.write_text(example_text.replace("budget_gpu_hours = 6.5", "budget_gpu_hours = 1"), encoding="utf-8")
    result = _plan(str(path))
    assert result.exit_code == 1, result.output
    assert "0 feasible" in result.output and "no point is feasible" in result.output


def test_sweep_budget_prunes_in_order(tmp_path, example_text) -> None:
    path = tmp_path / "s.toml"
    path.write_text(example_text.replace("gpu_hours = 2000", "gpu_hours = 20"), encoding="utf-8")
    data = json.loads(_plan(str(path), "--format", "json", "--no-lint").output)
    assert data["counts"]["feasible"] == 4 and data["counts"]["over-sweep-budget"] == 8
    assert data["feasible_totals"]["gpu_hours"] <= 20


def test_random_and_tpe_sample_with_the_seed(tmp_path, example_text) -> None:
    text = example_text.replace('method = "grid"', 'method = "tpe"').replace("cost = 4000", "cost = 4000\nmax_trials = 30")
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    first = _plan(str(path), "--format", "json", "--no-lint").output
    again = _plan(str(path), "--format", "json", "--no-lint").output
    a, b = json.loads(first), json.loads(again)
    assert [p["overrides"] for p in a["points"]] == [p["overrides"] for p in b["points"]]
    assert len(a["points"]) == 30
    lrs = [p["overrides"]["training.learning_rate"] for p in a["points"]]
    assert all(5e-5 <= x <= 1e-3 for x in lrs) and len(set(lrs)) == 30
    assert "can only sample the prior" in a["notes"][0]
    assert "can only sample the prior" in _plan(str(path), "--no-lint").output
    other = json.loads(_plan(str(path), "--format", "json", "--no-lint", "--set", "sweep.seed=8").output)
    assert [p["overrides"] for p in other["points"]] != [p["overrides"] for p in a["points"]]


def test_condition_drops_inactive_parameter(tmp_path, example_text) -> None:
    text = example_text.replace('[sweep.parameters."training.seq_len"]\nvalues = [2048, 4096]',
                                '[sweep.parameters."training.method"]\nvalues = ["full", "lora"]')
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    spec = load_spec(path)
    assert spec.sweep is not None
    pts = list(points(spec.sweep, FastPath(spec).values))
    full = [p for p in pts if p["training.method"] == "full"]
    lora = [p for p in pts if p["training.method"] == "lora"]
    assert full and all("training.lora.rank" not in p for p in full)
    assert all("training.lora.rank" in p for p in lora)
    assert len(full) * 3 == len(lora)  # three ranks collapse into one point when the rank does not apply


def test_spec_without_sweep_is_usage_error(tmp_path) -> None:
    result = _plan(str(EXAMPLE.parent.parent / "llama2-7b-lora-a100.toml"))
    assert result.exit_code == 2
    assert "has no [sweep] table" in result.output


def test_invalid_spec_exit_2(tmp_path, example_text) -> None:
    path = tmp_path / "s.toml"
    path.write_text(example_text.replace("low = 5e-5", "low = -1.0"), encoding="utf-8")
    result = _plan(str(path))
    assert result.exit_code == 2
    assert "log_uniform needs low > 0" in result.output


def test_condition_reads_the_spec_default(tmp_path, example_text) -> None:
    # training.method is not written in this spec: its default ("full") decides the condition
    text = example_text.replace('method = "lora"\n', "").replace("[training.lora]\nrank = 16\nalpha = 32\n", "")
    text = text.replace('when = { "training.method" = ["lora", "qlora"] }', 'when = { "training.method" = "full" }')
    text = text.replace('[sweep.parameters."training.lora.rank"]\nvalues = [8, 16, 64]',
                        '[sweep.parameters."training.dropout"]\nvalues = [0.0, 0.1]')
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    spec = load_spec(path)
    assert spec.training is not None and spec.training.method == "full" and "method" not in spec.source.raw["training"]
    assert spec.sweep is not None
    pts = list(points(spec.sweep, FastPath(spec).values))
    assert all("training.dropout" in p for p in pts) and len(pts) == 4 * 2 * 4 * 2 * 2
