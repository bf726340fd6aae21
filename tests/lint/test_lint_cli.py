"""`llmspec lint`, `llmspec rule` and `llmspec rules` through the command line (click's runner and a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from lint_helpers import write_spec

from llmspec.cli import cli

ROOT = Path(__file__).resolve().parents[2]
WARN_ONLY = '[sampling]\nmax_new_tokens = 2000\n'          # SMP006, a warning
ERROR = '[sampling]\ntemperature = 3\n'                      # SMP001, an error
CLEAN = '[sampling]\ntemperature = 0.7\n'


def run(*args, cwd=None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("body", "flags", "code"), [
    (CLEAN, [], 0),
    (WARN_ONLY, [], 0),
    (WARN_ONLY, ["--strict"], 1),
    (ERROR, [], 1),
    (ERROR, ["--exit-zero"], 0),
    (WARN_ONLY, ["--strict", "--exit-zero"], 0),
])
def test_exit_codes(tmp_path, body, flags, code):
    spec = write_spec(tmp_path, body)
    assert run("lint", str(spec), *flags).exit_code == code


def test_invalid_spec_is_a_finding_exit_1(tmp_path):
    (tmp_path / "a.toml").write_text('[model]\nname = "x"\nepochs = 3\n\n[model.architecture]\nn_layers = 2\n')
    (tmp_path / "b.toml").write_text('[model]\nname = "x\n')
    (tmp_path / "c.toml").write_text('extends = "missing.toml"\n[model]\nname = "x"\n')
    outcome = run("lint", str(tmp_path), "-f", "concise")
    assert outcome.exit_code == 1
    codes = [line.split(": ")[1].split()[0] for line in outcome.output.splitlines()[:-1]]
    assert "SPC002" in codes and "SPC001" in codes and "SPC003" in codes
    assert "a.toml:3:1: SPC002" in outcome.output
    sarif = json.loads(run("lint", str(tmp_path / "b.toml"), "-f", "sarif").output)
    assert sarif["runs"][0]["results"][0]["ruleId"] == "SPC001"


def test_folder_lints_specs_and_skips_other_toml(tmp_path):
    write_spec(tmp_path, ERROR, "one.toml")
    (tmp_path / "nested").mkdir()
    write_spec(tmp_path / "nested", CLEAN, "two.toml")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "x"\n')
    (tmp_path / ".hidden").mkdir()
    write_spec(tmp_path / ".hidden", ERROR, "three.toml")
    outcome = run("lint", str(tmp_path), "-f", "concise")
    assert outcome.output.strip().endswith("in 2 specs.")
    # a named non-spec file is skipped too (pre-commit passes every staged .toml)
    outcome = run("lint", str(tmp_path / "Cargo.toml"))
    assert outcome.exit_code == 0 and "no spec files found" in outcome.output
    # nothing was linted: no "All checks passed", and the skipped file is named as skipped
    assert "All checks passed" not in outcome.output and "Nothing checked (0 specs)." in outcome.output
    assert f"skipped {tmp_path / 'Cargo.toml'}, which is no spec" in outcome.output


def test_config_include_forces_a_file(tmp_path):
    (tmp_path / "llmspec.toml").write_text('include = ["specs/*.toml"]\n')
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "broken.toml").write_text('nme = "x"\n')
    outcome = run("lint", str(tmp_path / "specs"), "-f", "concise")
    assert outcome.exit_code == 1 and "SPC002" in outcome.output


def test_missing_path_is_usage_error(tmp_path):
    outcome = run("lint", str(tmp_path / "nope.toml"))
    assert outcome.exit_code == 2 and f"{tmp_path / 'nope.toml'}: no such file" in outcome.output


def test_output_file(tmp_path):
    spec = write_spec(tmp_path, ERROR)
    out = tmp_path / "report.json"
    outcome = run("lint", str(spec), "-f", "json", "-o", str(out))
    assert outcome.exit_code == 1 and outcome.output == ""
    assert json.loads(out.read_text())[0]["code"] == "SMP001"


def test_set_override(tmp_path):
    spec = write_spec(tmp_path, CLEAN)
    outcome = run("lint", str(spec), "--set", "sampling.temperature=2.5", "-f", "concise")
    assert outcome.exit_code == 1 and "<--set sampling.temperature>:1:1: SMP001" in outcome.output


def test_statistics_json(tmp_path):
    spec = write_spec(tmp_path, ERROR)
    data = json.loads(run("lint", str(spec), "--statistics", "-f", "json", "--select", "SMP").output)
    assert data == [{"code": "SMP001", "name": "temperature-out-of-range", "severity": "error", "count": 1}]


def test_rule_command():
    outcome = run("rule", "smp001")
    assert outcome.exit_code == 0
    assert outcome.output.startswith("SMP001 (temperature-out-of-range) [error]")
    assert "Why:" in outcome.output and "Bad:" in outcome.output and "max_temperature = 2.0" in outcome.output
    assert run("rule", "temperature-out-of-range").output == outcome.output
    assert run("rule", "SPC001").exit_code == 0


def test_rule_unknown_code():
    outcome = CliRunner().invoke(cli, ["rule", "SMP100"])
    assert outcome.exit_code != 0 and "unknown rule 'SMP100'" in outcome.output


def test_rules_command():
    outcome = run("rules")
    assert outcome.exit_code == 0 and "SMP001" in outcome.output and "temperature-out-of-range" in outcome.output
    data = json.loads(run("rules", "--format", "json").output)
    assert {"code": "SMP001", "name": "temperature-out-of-range", "severity": "error"}.items() <= data[
        [d["code"] for d in data].index("SMP001")].items()


def test_real_process_exit_code_and_no_traceback(tmp_path):
    spec = write_spec(tmp_path, ERROR)
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "llmspec", "lint", str(spec)], capture_output=True, text=True, env=env)
    if "No module named llmspec.__main__" in proc.stderr:
        proc = subprocess.run([str(Path(sys.executable).parent / "llmspec"), "lint", str(spec)], capture_output=True,
                              text=True, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "SMP001" in proc.stdout and "Traceback" not in proc.stderr


def test_toml_embedding_specs_in_strings_is_not_a_spec():
    # the rule case files hold specs in multi-line strings; they are not specs themselves
    from llmspec.lint.engine import Options, lint_paths

    assert lint_paths([str(ROOT / "tests" / "lint" / "cases")], Options()).files == []


def test_relative_paths_are_reported_without_dot_slash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_spec(tmp_path, ERROR, "one.toml")
    assert run("lint", "-f", "concise", "--select", "SMP").output.startswith("one.toml:2:1: SMP001")
