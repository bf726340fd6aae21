"""Mistakes a newcomer makes get one clear line and exit 2 (found by a fresh-clone trial of the README)."""

from __future__ import annotations

import json
import re
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
    """Every `--set` group a MEM001 fix prints is shell-quoted: pasted through a shell (shlex, as POSIX sh splits
    it), `llmspec estimate` accepts it and the run then fits. A list value (LoRA targets) must survive quoting."""
    import shlex

    cases = [("examples/llama3-70b-full-fsdp-8xh100.toml", ()),
             ("examples/llama2-7b-lora-a100.toml", ("--set", "training.method=full"))]  # a LoRA all-linear hint
    seen = ""
    for spec, extra in cases:
        result = _llmspec("lint", spec, "-f", "concise", *extra)
        assert result.returncode == 1
        full = _llmspec("lint", spec, *extra).stdout
        seen += full
        groups = re.findall(r"\((--set [^()]*)\)", full)
        assert groups, full
        for group in groups:
            args = shlex.split(group)
            assert all(a == "--set" or "=" in a for a in args), group
            fixed = _llmspec("estimate", spec, *extra, *args, "--format", "json")
            assert fixed.returncode == 0, (group, fixed.stderr)
            assert json.loads(fixed.stdout)["memory"]["training"]["fits"] is True, group
    assert "--set 'training.lora.targets=[\"all-linear\"]'" in seen


