"""The GitHub Actions recipe users copy (examples/github-actions/llmspec.yml): valid against GitHub's workflow
schema, and its shell steps really work: the review step is run with bash in a temporary git repository with a
base and a head commit, as the pull_request event would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from report_helpers import ROOT, markdown_tables

WORKFLOW = ROOT / "examples" / "github-actions" / "llmspec.yml"


def _workflow() -> dict:
    yaml = pytest.importorskip("yaml")  # PyYAML comes with the dev extra (pre-commit)
    return yaml.safe_load(WORKFLOW.read_text())


def _step(job: str, name: str) -> dict:
    steps = _workflow()["jobs"][job]["steps"]
    found = [s for s in steps if s.get("name") == name]
    assert found, f"no step {name!r} in job {job}"
    return found[0]


def test_workflow_is_valid_for_github_actions() -> None:
    # check-jsonschema ships GitHub's workflow schema (SchemaStore), so this runs offline
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                             str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_uploads_sarif_and_posts_the_review() -> None:
    jobs = _workflow()["jobs"]
    uses = [s.get("uses", "") for s in jobs["lint"]["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert jobs["lint"]["permissions"]["security-events"] == "write"
    assert jobs["review"]["permissions"]["pull-requests"] == "write"
    assert "GITHUB_STEP_SUMMARY" in _step("review", "Diff and report every changed spec")["run"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false",
                           *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.slow
def test_review_step_runs_in_a_pull_request_checkout(tmp_path: Path) -> None:
    if shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("git and bash are needed to run the workflow's shell step")
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "llama2-7b-lora-a100.toml", repo / "specs" / "support-bot.toml")
    (repo / "README.md").write_text("not a spec\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    # the pull request: a spec changed (full fine-tune instead of LoRA), a new spec added, a non-spec changed
    spec = repo / "specs" / "support-bot.toml"
    spec.write_text(spec.read_text().replace('method = "lora"', 'method = "full"'))
    shutil.copy(ROOT / "examples" / "llama3-8b-qlora-rtx4090.toml", repo / "specs" / "chat.toml")
    shutil.copytree(ROOT / "examples" / "configs", repo / "specs" / "configs")
    (repo / "README.md").write_text("still not a spec\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "head")

    summary = tmp_path / "step_summary.md"
    env = {**os.environ, "BASE": base, "SPECS": "specs", "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    script = _step("review", "Diff and report every changed spec")["run"]
    # GitHub runs `run:` with `bash -e {0}` on Linux runners when no shell is given
    result = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

    comment = (repo / "review" / "comment.md").read_text()
    assert "### llmspec diff: `" + base + ":specs/support-bot.toml` → `specs/support-bot.toml`" in comment
    assert "it no longer fits the A100-80GB" in comment
    assert "# aqua-chat-8b-qlora" in comment  # the new spec: its whole review
    markdown_tables(comment)
    assert sorted(p.name for p in (repo / "review").glob("*.html")) == ["chat.html", "support-bot.html"]
    assert summary.read_text() == comment


def test_lint_step_writes_sarif(tmp_path: Path) -> None:
    run = [s["run"] for s in _workflow()["jobs"]["lint"]["steps"] if "sarif" in s.get("run", "")]
    assert run == ['llmspec lint "$SPECS" --format sarif --output llmspec.sarif --exit-zero']
    shutil.copytree(ROOT / "examples", tmp_path / "specs")
    env = {**os.environ, "SPECS": "specs", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-e", "-c", run[0]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    sarif = json.loads((tmp_path / "llmspec.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["tool"]["driver"]["name"] == "llmspec"
