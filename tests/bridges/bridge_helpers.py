"""Fixture paths, the bridges venv and `run_cli` (tests/cli_run.py: `llmspec ARGS` through the real entry point)."""

from __future__ import annotations

from pathlib import Path

from cli_run import Result, run_cli

__all__ = ["FIXTURES", "PRESETS", "ROOT", "Result", "bridges_python", "run_cli"]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PRESETS = Path(__file__).resolve().parents[2] / "llmspec" / "data" / "presets"
ROOT = Path(__file__).resolve().parents[2]


def bridges_python() -> Path | None:
    """The python of the venv that holds litgpt and torchtune with their own dependencies (litgpt needs an older
    huggingface-hub than the eval stack, torchtune needs torchao); .ci/run builds it. None when it is absent."""
    import os

    given = os.environ.get("LLMSPEC_BRIDGES_PYTHON")
    path = Path(given) if given else ROOT / ".venv-bridges" / "bin" / "python"
    return path if path.is_file() else None
