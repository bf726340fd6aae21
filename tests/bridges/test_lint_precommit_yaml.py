"""The pre-commit hook on YAML training configs, for real: `pre-commit try-repo` against a snapshot of this checkout
(the same harness as tests/lint/test_precommit.py: pre-commit builds its own virtualenv and installs llmspec)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("precommit_harness", ROOT / "tests" / "lint" / "test_precommit.py")
harness = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(harness)  # type: ignore[union-attr]

TRAIN = ("model_name_or_path: meta-llama/Llama-2-7b-hf\ndataset_name: trl-lib/Capybara\nlearning_rate: 2.0e-4\n"
         "per_device_train_batch_size: 8\nmax_length: 4096\nbf16: true\n")


@pytest.mark.slow
def test_pre_commit_hook_lints_yaml_training_configs(tmp_path):
    if shutil.which("git") is None:
        pytest.fail("git is needed to run pre-commit")
    hook_repo, user_repo = tmp_path / "hook", tmp_path / "user"
    hook_repo.mkdir()
    user_repo.mkdir()
    harness._snapshot(hook_repo)
    harness._git(user_repo, "init", "-q")
    (user_repo / "train.yaml").write_text(TRAIN)
    (user_repo / "ci.yml").write_text("name: CI\non: push\n")  # no training config: skipped, not refused
    (user_repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.llmspec.hardware]\naccelerator = "T4"\n')
    harness._git(user_repo, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}
    proc = subprocess.run([*harness.PRE_COMMIT, "try-repo", str(hook_repo), "llmspec-lint", "--files", "ci.yml",
                           "pyproject.toml", "train.yaml"], cwd=user_repo, env=env, capture_output=True, text=True,
                          timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "train.yaml:6:1: HW001 [error] precision = 'bf16-mixed' needs bf16 support, which T4" in out
    assert "BRG002 [info] memory checked on 1x T4 (accelerator from pyproject.toml:5:1)" in out
    assert "ci.yml" not in out.replace("--files ci.yml", "")
