"""Optuna and Ray are optional extras: with their import blocked (a meta-path finder in a subprocess, not an
uninstall), `sweep plan` works and `sweep run` names the extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sweep_helpers import EXAMPLE, ROOT

BLOCK = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('optuna', 'ray'):\n"
    "            raise ImportError(f'blocked for the test: {name}')\n"
    "sys.meta_path.insert(0, Block())\n"
    "from llmspec.cli._errors import run\n"
    "from llmspec.cli import cli\n"
    "sys.argv = ['llmspec', *sys.argv[1:]]\n"
    "run(cli)\n"
)


def _llmspec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK, *args], capture_output=True, text=True, cwd=ROOT)


def test_plan_works_without_engines() -> None:
    result = _llmspec("sweep", "plan", str(EXAMPLE), "--no-lint")
    assert result.returncode == 0, result.stderr
    assert "192 points (grid)" in result.stdout


@pytest.mark.parametrize("engine,module,extra", [("optuna", "optuna", "sweep-optuna"), ("ray", "ray", "sweep-ray")])
def test_run_names_the_extra(engine, module, extra) -> None:
    result = _llmspec("sweep", "run", str(EXAMPLE), "--engine", engine, "--train", "llmspec.sweep.demo:train_tiny")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"llmspec sweep run --engine {engine} needs {module}, which is not installed: "
        f"pip install 'llmspec-cli[{extra}]'  (`llmspec sweep plan` works without it)"]
    assert "Traceback" not in result.stderr


def test_engines_are_not_imported_by_plan() -> None:
    code = ("import sys\nfrom llmspec.spec.loader import load_spec\nfrom llmspec.sweep.plan import make_plan\n"
            f"make_plan(load_spec({str(EXAMPLE)!r}))\n"
            "print(sorted(m for m in ('optuna', 'ray', 'torch', 'transformers', 'lm_eval') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
