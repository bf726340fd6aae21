"""Helpers for the spec tests: run the real `llmspec` entry point in-process, or as a subprocess.

Imported by the tests as ``spec_helpers`` (pytest puts this directory on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
ROOT = HERE.parent.parent
EXAMPLES = ROOT / "examples"
SCHEMAS = ROOT / "schemas"
LLMSPEC = Path(sys.executable).parent / "llmspec"

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "OMP_NUM_THREADS": "1",
}
os.environ.update(OFFLINE_ENV)

# The smallest valid spec; tests write variations of it.
MINIMAL = """\
[model]
name = "tiny"

[model.architecture]
n_layers = 2
d_model = 64
n_heads = 4
ffn_dim = 128
vocab_size = 1000
context_length = 256
"""


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in (self.out + self.err).splitlines() if line]


def run_cli(*args: str, cwd: Path | None = None) -> Result:
    """Run `llmspec ARGS` through the real entry point (``llmspec.cli.main``, which maps return values to exit
    codes) in this process. ``CliRunner.invoke(cli, ...)`` would report exit 0 for a failing `check`, because the
    commands *return* their exit code and only ``main`` turns it into one."""
    from llmspec.cli import main

    runner = CliRunner()
    old_argv, old_cwd = sys.argv, os.getcwd()
    with runner.isolation() as streams:
        sys.argv = ["llmspec", *args]
        try:
            if cwd is not None:
                os.chdir(cwd)
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old_argv
            os.chdir(old_cwd)
        out, err = streams[0].getvalue(), streams[1].getvalue()
    return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def run_subprocess(*args: str, cwd: Path | None = None, timeout: float = 60) -> Result:
    """Run the installed `llmspec` console script in a fresh process."""
    exe = [str(LLMSPEC)] if LLMSPEC.exists() else [sys.executable, "-c", "from llmspec.cli import main; main()"]
    env = {**os.environ, **OFFLINE_ENV}
    env.pop("LLMSPEC_DEBUG", None)
    proc = subprocess.run([*exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)
