"""Reports with eval results: from a REAL `llmspec eval` run of the project's tiny model (eval extra), and from
results files of the documented shape (tests/report/data, validated by the same schema the runner writes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from report_helpers import DATA, ROOT, markdown_tables, parse_html, run_cli

from llmspec.spec.loader import load_spec


def _gates_table(text: str) -> dict[str, list[str]]:
    tables = [t for t in markdown_tables(text) if t[0][0] == "Gate"]
    assert len(tables) == 1
    return {row[0].strip("`"): row[1:] for row in tables[0][1:]}


def test_report_shows_results_and_gate_outcomes() -> None:
    spec = ROOT / "examples" / "tiny-finetuned.toml"
    result = run_cli("report", str(spec), "--results", str(DATA / "results-finetuned.json"))
    assert result.exit_code == 0, result.output
    text = result.output
    assert "## Eval results" in text
    gates = _gates_table(text)
    assert set(gates) == {g.metric for g in load_spec(spec).eval.gates}
    assert all(row[1] == "pass" for row in gates.values())
    metrics = [t for t in markdown_tables(text) if t[0][0] == "Task"][0]
    assert ["kb_mc", "acc", "0.725", "[0.575, 0.85]", "40", "higher"] in metrics
    assert "| Eval gates | 4 of 4 passed |" in text


def test_failed_gates_make_the_verdict_not_ready(tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    result = run_cli("report", str(ROOT / "examples" / "tiny-base.toml"), "--results",
                     str(DATA / "results-base.json"), "-o", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert 'class="callout error"><strong>Not ready:</strong> 4 of 4 eval gates failed.' in html
    assert "eval" in parse_html(html).sections


def test_results_of_another_spec_version_are_flagged(tmp_path: Path) -> None:
    results = json.loads((DATA / "results-finetuned.json").read_text())
    results["run"].update(spec="specs/old.toml", spec_hash="sha256:" + "0" * 64)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    result = run_cli("report", str(ROOT / "examples" / "tiny-finetuned.toml"), "--results", str(path))
    assert result.exit_code == 0, result.output
    assert "results were written for a different version of the spec (specs/old.toml)" in result.output


@pytest.mark.eval
@pytest.mark.slow
def test_report_of_a_real_eval_run(tmp_path: Path) -> None:
    """`llmspec eval` on the untrained tiny model (built offline by llmspec), then `llmspec report --results`."""
    spec = ROOT / "examples" / "tiny-base.toml"
    run = subprocess.run([sys.executable, "-m", "llmspec", "eval", str(spec), "--output", str(tmp_path / "eval"),
                          "--quiet"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]  # the untrained model fails its gates
    results = tmp_path / "eval" / "results.json"
    written = json.loads(results.read_text())
    md = tmp_path / "review.md"
    result = run_cli("report", str(spec), "--results", str(results), "-o", str(md))
    assert result.exit_code == 0, result.output
    text = md.read_text()
    gates = _gates_table(text)
    assert set(gates) == {g["metric"] for g in written["gates"]}
    assert all(row[1] in ("**FAIL**", "**ERROR**") for row in gates.values())
    shown = {(row[0], row[1]) for t in markdown_tables(text) if t[0][0] == "Task" for row in t[1:]}
    assert shown == {(task, m) for task, r in written["tasks"].items() for m in r["metrics"]}
    assert "**Not ready:**" in text
    assert "different version of the spec" not in text  # report and runner hash the spec the same way
