"""Every shipped example is a valid spec, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_passes_check(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmspec", "check", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{path}: ok"
    assert result.stderr == ""


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"llama2-7b-lora-a100.toml", "llama3-8b-qlora-rtx4090.toml", "llama3-70b-full-fsdp-8xh100.toml",
            "pretrain-7b-repeated-data.toml", "llama3-70b-int8-serving-2xh100.toml"} <= names
