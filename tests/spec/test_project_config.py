"""The project configuration (llmspec.toml / [tool.llmspec]) is resolved once, below the commands and outside the
spec package (issue 11, finding 9): every command reports its errors (exit 2, file:line:col), and custom
accelerators work in every command, eval included."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from spec_helpers import EXAMPLES, ROOT, run_cli

SPEC = (EXAMPLES / "tiny-finetuned.toml").read_text(encoding="utf-8") + '\n[hardware]\naccelerator = "LabCard"\n'
CARD = '[accelerators.LabCard]\nmemory = "48GiB"\nbandwidth = 900\ntflops = { bf16 = 150, fp32 = 40 }\nbf16 = true\n'
COMMANDS = {
    "check": ["check", "spec.toml"],
    "estimate": ["estimate", "spec.toml"],
    "estimate-json": ["estimate", "--format", "json", "spec.toml"],
    "report": ["report", "spec.toml"],
    "diff": ["diff", "spec.toml", "spec.toml"],
    "eval-dry-run": ["eval", "--dry-run", "spec.toml"],
    "lint": ["lint", "spec.toml"],
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "spec.toml").write_text(SPEC, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_custom_accelerator_works_in_every_command(project, command):
    if command.startswith("eval") and importlib.util.find_spec("lm_eval") is None:
        pytest.skip("needs lm_eval (pip install -e '.[eval]')")
    (project / "llmspec.toml").write_text(CARD, encoding="utf-8")
    result = run_cli(*COMMANDS[command], cwd=project)
    assert result.code == 0, (result.out, result.err)
    assert "unknown accelerator" not in result.out + result.err


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("where", "text", "position", "message"), [
    ("llmspec.toml", 'selct = ["MEM"]\n' + CARD, "llmspec.toml:1:1:", "unknown key 'selct'"),
    ("llmspec.toml", 'select = ["MEM"\n', "llmspec.toml:1:16:", "invalid TOML"),
    ("llmspec.toml", '[accelerators.LabCard]\nmemory = "48GiB"\n', "llmspec.toml:1:2:", "missing bandwidth"),
    ("pyproject.toml", '[project]\nname = "x"\n\n["tool"."llmspec"]\nignor = ["SMP"]\n', "pyproject.toml:5:1:",
     "unknown key 'ignor' in [tool.llmspec]"),
])
def test_broken_config_is_reported_by_every_command(project, command, where, text, position, message):
    (project / where).write_text(text, encoding="utf-8")
    result = run_cli(*COMMANDS[command], cwd=project)
    assert result.code == 2, (result.out, result.err)
    lines = [line for line in result.lines if position in line]
    assert lines and message in lines[0], result.lines
    assert "internal error" not in result.out + result.err


def test_broken_config_never_blames_the_spec(project):
    (project / "llmspec.toml").write_text(CARD + "selct = 1\n", encoding="utf-8")
    result = run_cli("check", "spec.toml", cwd=project)
    assert "unknown accelerator" not in result.out + result.err and result.code == 2


def test_custom_accelerator_reaches_eval_memory(project):
    (project / "llmspec.toml").write_text(CARD, encoding="utf-8")
    from llmspec.eval.runner import _gpu_memory
    from llmspec.project import load_spec

    assert _gpu_memory(load_spec(project / "spec.toml")) == 48 * 2**30


def test_accelerators_command_lists_custom_entries_and_reports_errors(project):
    (project / "llmspec.toml").write_text(CARD, encoding="utf-8")
    listed = json.loads(run_cli("accelerators", "--format", "json", cwd=project).out)
    assert listed["LabCard"]["memory_bytes"] == 48 * 2**30
    (project / "llmspec.toml").write_text(CARD + "selct = 1\n", encoding="utf-8")
    result = run_cli("accelerators", cwd=project)
    assert result.code == 2 and "llmspec.toml:6:1:" in result.err


# -- dependency direction ----------------------------------------------------------------------------------------
FORBIDDEN = ("llmspec.config", "llmspec.eval", "llmspec.lint", "llmspec.estimate", "llmspec.cli", "llmspec.report",
             "llmspec.project")


@pytest.mark.parametrize("module", sorted((ROOT / "llmspec" / "spec").glob("*.py")), ids=lambda p: p.name)
def test_spec_package_imports_no_config_eval_or_commands(module: Path):
    """Every import in the spec package, lazy ones included (parsed, not run)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    bad = [n for n in names if n.startswith(FORBIDDEN)]
    assert not bad, f"{module.name} imports {bad}"


def test_loading_a_spec_imports_no_config(tmp_path):
    (tmp_path / "spec.toml").write_text(SPEC.replace("LabCard", "A100-80GB"), encoding="utf-8")
    code = ("import sys; from llmspec.spec.loader import load_spec; load_spec(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith(('llmspec.config', 'llmspec.eval'))))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "spec.toml")], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
