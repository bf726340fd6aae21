"""Helpers shared by the eval tests (a module with a unique name: `from conftest import ...` is ambiguous when
several test folders have a conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    out: Path
    step_summary: str | None = None

    @property
    def results(self) -> dict:
        return json.loads((self.out / "results.json").read_text())


def run_llmspec(*args: str, out: Path | None = None, env: dict | None = None, cwd: Path = ROOT,
                timeout: float = 600) -> CliRun:
    """The real CLI in a subprocess (`python -m llmspec ...`), as a user or CI runs it."""
    argv = [sys.executable, "-m", "llmspec", *args]
    if out is not None:
        argv += ["--output", str(out)]
    full_env = {**os.environ, **(env or {})}
    p = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout)
    return CliRun(p.returncode, p.stdout, p.stderr, out or cwd / "llmspec-results")
