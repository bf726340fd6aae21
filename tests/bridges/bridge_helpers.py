"""Run `llmspec ARGS` through the real entry point (exit codes as the shell sees them)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PRESETS = Path(__file__).resolve().parents[2] / "llmspec" / "data" / "presets"


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> Result:
    from llmspec.cli import main

    runner = CliRunner()
    old_argv = sys.argv
    with runner.isolation() as streams:
        sys.argv = ["llmspec", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old_argv
        out, err = streams[0].getvalue(), streams[1].getvalue()
    return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


ROOT = Path(__file__).resolve().parents[2]


def bridges_python() -> Path | None:
    """The python of the venv that holds litgpt and torchtune with their own dependencies (litgpt needs an older
    huggingface-hub than the eval stack, torchtune needs torchao); .ci/run builds it. None when it is absent."""
    import os

    given = os.environ.get("LLMSPEC_BRIDGES_PYTHON")
    path = Path(given) if given else ROOT / ".venv-bridges" / "bin" / "python"
    return path if path.is_file() else None
