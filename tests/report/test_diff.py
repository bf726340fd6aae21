"""`llmspec diff` between two files and between two git revisions of an example (a real temporary repository),
its lead paragraph, lint introduced/fixed, gates, JSON round trip and error paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from report_helpers import DATA, ROOT, markdown_tables, run_cli

LORA = "examples/llama2-7b-lora-a100.toml"


def _table(text: str, first_header: str) -> dict[str, list[str]]:
    """The Markdown table whose first header cell is ``first_header``, as {first cell: other cells}."""
    found = [t for t in markdown_tables(text) if t[0][0] == first_header]
    assert len(found) == 1, f"{len(found)} tables headed {first_header!r} in:\n{text}"
    return {row[0]: row[1:] for row in found[0][1:]}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false",
                    *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding the examples (with their extends bases and hf_config files), one commit."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "examples")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmspec", *args], capture_output=True, text=True, cwd=cwd)


def test_diff_between_two_files_lists_changed_keys(tmp_path: Path) -> None:
    old = ROOT / LORA
    new = tmp_path / "new.toml"
    new.write_text(old.read_text().replace("rank = 16", "rank = 64").replace('dataset_tokens = "40M"',
                                                                              "dataset_tokens = 80_000_000"))
    result = run_cli("diff", str(old), str(new))
    assert result.exit_code == 0, result.output
    keys = _table(result.output, "Key")
    assert keys["`training.lora.rank`"] == ["`16`", "`64`"]
    assert keys["`training.dataset_tokens`"] == ["`40M`", "`80000000`"]  # as written on each side
    assert len(keys) == 2
    assert "Trainable parameters" in result.output  # rank 16 -> 64 quadruples the adapters
    assert "Trainable parameters +50.3M (+300%)" in result.output.splitlines()[2]  # the lead paragraph


def test_same_run_written_differently_is_no_change(tmp_path: Path) -> None:
    old = ROOT / LORA
    new = tmp_path / "same.toml"
    new.write_text(old.read_text().replace('dataset_tokens = "40M"', "dataset_tokens = 40_000_000"))
    result = run_cli("diff", str(old), str(new), "--format", "json")
    data = json.loads(result.output)
    assert data["changes"] == []
    assert data["summary"].startswith("No effective change")


def test_diff_between_revisions_reads_extends_from_the_revision(repo: Path) -> None:
    # the 70B spec extends base/llama-3-70b.toml: change the BASE only, the derived spec's diff must show it
    _edit(repo / "examples/base/llama-3-70b.toml", "n_layers = 80", "n_layers = 40")
    spec = "examples/llama3-70b-full-fsdp-8xh100.toml"
    result = _cli("diff", f"HEAD:{spec}", spec, cwd=repo)
    assert result.returncode == 0, result.stderr
    assert f"`HEAD:{spec}` → `{spec}`" in result.stdout
    assert _table(result.stdout, "Key") == {"`model.architecture.n_layers`": ["`80`", "`40`"]}
    impact = _table(result.stdout, "")
    assert impact["Parameters"][2].startswith("-")  # half the layers: fewer parameters


def test_diff_between_revisions_reads_hf_config_from_the_revision(repo: Path) -> None:
    config = repo / "examples/configs/llama-3-8b.json"
    data = json.loads(config.read_text())
    data["num_hidden_layers"] = 16
    config.write_text(json.dumps(data))
    _git(repo, "commit", "-q", "-am", "half the layers")
    spec = "examples/llama3-8b-qlora-rtx4090.toml"
    result = _cli("diff", f"HEAD~1:{spec}", f"HEAD:{spec}", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["changes"] == [{"key": "model.architecture.n_layers", "old": 32, "new": 16}]
    assert out["old"]["name"] == f"HEAD~1:{spec}" and out["new"]["name"] == f"HEAD:{spec}"


def test_diff_explains_a_change_that_no_longer_fits(repo: Path) -> None:
    spec = repo / LORA
    _edit(spec, 'method = "lora"', 'method = "full"')
    result = _cli("diff", f"HEAD:{LORA}", LORA, cwd=repo)
    assert result.returncode == 0, result.stderr
    lead = result.stdout.splitlines()[2]
    assert "Training memory per GPU rises from" in lead
    assert "it no longer fits the A100-80GB" in lead
    assert "`training.method`" in lead


def test_diff_reports_lint_findings_introduced_and_fixed(repo: Path) -> None:
    # temperature 2.5 for an extraction task: the sampling rules fire on the new side only
    _edit(repo / LORA, "temperature = 0.2", "temperature = 2.5")
    result = _cli("diff", f"HEAD:{LORA}", LORA, "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["lint"]["available"] is True
    introduced = {f["code"] for f in out["lint"]["introduced"]}
    assert introduced and all(code.startswith("SMP") for code in introduced)
    assert out["lint"]["fixed"] == []
    back = _cli("diff", LORA, f"HEAD:{LORA}", "--format", "json", cwd=repo)  # the other way round: fixed
    assert {f["code"] for f in json.loads(back.stdout)["lint"]["fixed"]} == introduced


def test_json_round_trips_the_library_result(tmp_path: Path) -> None:
    from llmspec.report.diff import compare

    new = tmp_path / "new.toml"
    new.write_text((ROOT / LORA).read_text().replace("micro_batch_size = 4", "micro_batch_size = 8"))
    result = run_cli("diff", str(ROOT / LORA), str(new), "--format", "json")
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert parsed == json.loads(json.dumps(compare(str(ROOT / LORA), str(new), old_name=str(ROOT / LORA),
                                                   new_name=str(new)).to_dict()))
    assert parsed["schema_version"] == 1
    assert set(parsed) == {"schema_version", "summary", "old", "new", "changes", "deltas", "lint", "gates"}
    assert parsed["changes"] == [{"key": "training.micro_batch_size", "old": 4, "new": 8}]


def test_gate_changes_when_both_sides_have_results() -> None:
    spec = str(ROOT / "examples/tiny-base.toml")
    result = run_cli("diff", spec, str(ROOT / "examples/tiny-finetuned.toml"),
                     "--old-results", str(DATA / "results-base.json"),
                     "--new-results", str(DATA / "results-finetuned.json"))
    assert result.exit_code == 0, result.output
    gates = _table(result.output, "Gate")
    assert gates["`kb_mc/acc (threshold)`"] == ["**fail** (0.275)", "pass (0.725)"]
    assert "Gates now passing" in result.output


def test_results_on_one_side_only_is_a_usage_error() -> None:
    result = _cli("diff", LORA, LORA, "--old-results", str(DATA / "results-base.json"), cwd=ROOT)
    assert result.returncode == 2
    assert "--old-results and --new-results go together" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("arg, message", [
    ("NOPE~3:examples/llama2-7b-lora-a100.toml", "unknown git revision 'NOPE~3'"),
    ("HEAD:examples/missing.toml", "no such file at revision HEAD"),
    ("HEAD:examples", "no such file at revision HEAD"),  # a folder is not a spec
])
def test_bad_revision_is_one_line_and_exit_2(repo: Path, arg: str, message: str) -> None:
    result = _cli("diff", arg, LORA, cwd=repo)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_revision_outside_a_git_repository_is_exit_2(tmp_path: Path) -> None:
    shutil.copy(ROOT / LORA, tmp_path / "spec.toml")
    result = _cli("diff", "HEAD:spec.toml", "spec.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "not inside a git repository" in result.stderr


def test_invalid_spec_at_a_revision_names_the_revision(repo: Path) -> None:
    _edit(repo / LORA, "n_layers = 32", 'n_layers = "many"')
    _git(repo, "commit", "-q", "-am", "break it")
    result = _cli("diff", f"HEAD:{LORA}", f"HEAD~1:{LORA}", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith(f"HEAD:{LORA}:")  # not the temporary folder it was read into
    assert "Traceback" not in result.stderr
