"""Configuration: llmspec.toml and [tool.llmspec], found upward; strict validation with positions; select,
ignore, per-file-ignores, severity, thresholds and extra accelerators."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from lint_helpers import lint_spec, positions, write_spec

from llmspec.cli import cli
from llmspec.config import Config, ConfigError, find_config, load_config

HOT = '[sampling]\ntemperature = 3\ntop_p = 1.5\n'


def run(*args):
    return CliRunner().invoke(cli, ["lint", *args], catch_exceptions=False)


def test_defaults_when_no_config(tmp_path):
    config = find_config(tmp_path)
    assert isinstance(config, Config) and config.path is None and config.select == ["ALL"]


def test_found_upward_llmspec_toml_before_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.llmspec]\nignore = ["SMP"]\n')
    (tmp_path / "llmspec.toml").write_text('ignore = ["ARC"]\n')
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_config(tmp_path / "a" / "b").ignore == ["ARC"]


def test_pyproject_without_table_is_skipped(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.llmspec]\nignore = ["SMP003"]\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tmp_path / "sub").ignore == ["SMP003"]
    result = lint_spec(tmp_path / "sub", HOT)
    assert positions(result) == ["2:1 SMP001"]


def test_kebab_case_keys(tmp_path):
    path = tmp_path / "llmspec.toml"
    path.write_text('[per-file-ignores]\n"spec.toml" = ["SMP001"]\n')
    assert load_config(path).per_file_ignores == {"spec.toml": ["SMP001"]}
    assert positions(lint_spec(tmp_path, HOT)) == ["3:1 SMP003"]


def test_per_file_ignores_glob(tmp_path):
    (tmp_path / "llmspec.toml").write_text('per_file_ignores = { "**/drafts/*.toml" = ["SMP"] }\n')
    (tmp_path / "specs" / "drafts").mkdir(parents=True)
    assert positions(lint_spec(tmp_path / "specs" / "drafts", HOT)) == []
    assert len(lint_spec(tmp_path / "specs", HOT).findings) == 2


def test_severity_override_changes_exit_code(tmp_path):
    write_spec(tmp_path, '[sampling]\nmax_new_tokens = 2000\n')
    assert run(str(tmp_path / "spec.toml")).exit_code == 0  # SMP006 is a warning
    (tmp_path / "llmspec.toml").write_text('[severity]\nSMP006 = "error"\n')
    outcome = run(str(tmp_path / "spec.toml"))
    assert outcome.exit_code == 1 and "SMP006 [error]" in outcome.output


@pytest.mark.parametrize(("text", "message", "line", "col"), [
    ('selct = ["MEM"]\n', "unknown key 'selct' in llmspec.toml; did you mean 'select'?", 1, 1),
    ('select = ["MEM"]\nignore = "SMP"\n', "ignore: expected an array, got 'SMP'", 2, 1),
    ('\n[thresholds.OVF004]\nmax_epoch = 4\n', "OVF004 has no threshold 'max_epoch'; did you mean 'max_epochs'?", 3, 1),
    ('[thresholds.OVF004]\nmax_epochs = "four"\n', "thresholds.OVF004.max_epochs: expected a number", 2, 1),
    ('[thresholds.OVF444]\nmax_epochs = 4\n', "thresholds: unknown rule code 'OVF444'", 1, 2),
    ('ignore = ["SMP999"]\n', "ignore: 'SMP999' matches no rule code", 1, 1),
    ('[severity]\nSMP001 = "fatal"\n', "severity.SMP001: 'fatal' is not one of 'error', 'warning' or 'info'", 2, 1),
    ('[accelerators.X1]\nmemory = "8GB"\n', "accelerator 'X1': missing bandwidth, tflops", 1, 2),
    ('select = [\n', "invalid TOML", 1, 11),
])
def test_invalid_config_is_one_line_exit_2(tmp_path, text, message, line, col):
    (tmp_path / "llmspec.toml").write_text(text)
    write_spec(tmp_path, HOT)
    outcome = CliRunner().invoke(cli, ["lint", str(tmp_path / "spec.toml")])
    assert outcome.exit_code == 2, outcome.output
    lines = outcome.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert f"llmspec.toml:{line}:{col}:" in lines[0]
    assert "Traceback" not in outcome.output


def test_config_error_in_pyproject_points_into_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.llmspec]\nignor = ["SMP"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "pyproject.toml")
    assert str(info.value).endswith("pyproject.toml:5:1: unknown key 'ignor' in [tool.llmspec]; did you mean 'ignore'?")


def test_extra_accelerator_resolves(tmp_path):
    (tmp_path / "llmspec.toml").write_text(
        '[accelerators.TPU-ish]\nmemory = "16GiB"\nbandwidth = 800\ntflops = { bf16 = 100 }\nbf16 = true\n')
    result = lint_spec(tmp_path, '[training]\nprecision = "bf16-mixed"\n\n[hardware]\naccelerator = "TPU-ish"\n')
    assert not [f for f in result.findings if f.code.startswith("SPC")], result.findings


def test_cli_select_replaces_and_ignore_adds(tmp_path):
    (tmp_path / "llmspec.toml").write_text('select = ["SMP001"]\n')
    spec = str(write_spec(tmp_path, HOT))
    assert "SMP003" not in run(spec, "-f", "concise").output
    assert "SMP003" in run(spec, "-f", "concise", "--select", "SMP").output
    assert "SMP001" not in run(spec, "-f", "concise", "--select", "SMP", "--ignore", "smp001").output


def test_cli_unknown_selector_is_usage_error(tmp_path):
    outcome = run(str(write_spec(tmp_path, HOT)), "--select", "MEMX")
    assert outcome.exit_code == 2 and "--select MEMX: matches no rule code" in outcome.output
