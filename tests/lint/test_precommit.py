"""The pre-commit hook for real: `pre-commit try-repo` against a snapshot of this checkout.

try-repo needs a git repository with a commit; the checkout may have uncommitted work (or, in a fresh `git
init`, no HEAD at all), so the test commits a snapshot of the working tree (tracked and untracked files,
.gitignore respected) into a temporary repository and points try-repo at it. pre-commit then does what it
does for users: builds a virtualenv, pip-installs llmspec from that repository (dependencies come from the
package index) and runs the `llmspec-lint` hook from .pre-commit-hooks.yaml on the files given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD = '[model]\nname = "x"\n\n[model.architecture]\nn_layers = 2\nd_model = 64\nn_heads = 4\nffn_dim = 128\n' \
      'vocab_size = 512\ncontext_length = 256\n\n[sampling]\ntemperature = 3\n'
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=test@example.com", "-c", "user.name=test", *args], cwd=cwd,
                   check=True, capture_output=True)


def _snapshot(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    skip = (".llmspec-cache/", "benchmarks/", "tests/")
    for rel in filter(None, listed):
        if rel.startswith(skip) or not (ROOT / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-qm", "snapshot")


@pytest.mark.slow
def test_pre_commit_try_repo(tmp_path):
    if shutil.which("git") is None:
        pytest.fail("git is needed to run pre-commit")
    hook_repo, user_repo = tmp_path / "hook", tmp_path / "user"
    hook_repo.mkdir()
    user_repo.mkdir()
    _snapshot(hook_repo)
    _git(user_repo, "init", "-q")
    (user_repo / "good.toml").write_text(BAD.replace("temperature = 3", "temperature = 0.7"))
    (user_repo / "pyproject.toml").write_text('[project]\nname = "not-a-spec"\n')
    (user_repo / "bad.toml").write_text(BAD)
    _git(user_repo, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}

    def try_repo(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run([*PRE_COMMIT, "try-repo", str(hook_repo), "llmspec-lint", "--files", *files],
                              cwd=user_repo, env=env, capture_output=True, text=True, timeout=900)

    passing = try_repo("good.toml", "pyproject.toml")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "llmspec lint" in passing.stdout and "Passed" in passing.stdout

    failing = try_repo("bad.toml")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "bad.toml:13:1: SMP001 [error] temperature = 3 is outside [0, 2]" in failing.stdout
