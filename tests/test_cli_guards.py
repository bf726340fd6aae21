"""Mistakes a newcomer makes get one clear line and exit 2 (found by a fresh-clone trial of the README)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _llmspec(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmspec", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.eval
def test_eval_of_a_spec_without_an_eval_section_says_so() -> None:
    result = _llmspec("eval", "examples/llama3-70b-full-fsdp-8xh100.toml")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "llmspec eval: examples/llama3-70b-full-fsdp-8xh100.toml has no [eval] section, so there is nothing to run; "
        'add one, e.g. [eval] suites = ["smoke"] with [[eval.gates]] (see suites/ and docs/eval.md), or pass --suite NAME'
    ]


def test_report_refuses_an_output_suffix_it_cannot_write(tmp_path: Path) -> None:
    result = _llmspec("report", "examples/llama2-7b-lora-a100.toml", "-o", str(tmp_path / "review.pdf"))
    assert result.returncode == 2
    assert "cannot tell the format from" in result.stderr and "name a .md or .html file" in result.stderr
    assert not (tmp_path / "review.pdf").exists()


def test_lint_fix_hints_can_be_pasted_into_a_shell() -> None:
    result = _llmspec("lint", "examples/llama3-70b-full-fsdp-8xh100.toml", "-f", "concise")
    assert result.returncode == 1
    full = _llmspec("lint", "examples/llama3-70b-full-fsdp-8xh100.toml")
    assert "--set 'training.lora.targets=[\"all-linear\"]'" in full.stdout
