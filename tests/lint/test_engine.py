"""The engine: parallel runs give the same findings as serial ones; errors cross from worker processes;
shared base specs report once; a crashing rule is one finding, not a traceback."""

from __future__ import annotations

import pytest
from lint_helpers import BUILTIN, write_spec

from llmspec.config import ConfigError
from llmspec.lint.engine import Options, lint_paths


def _specs(folder, n):
    for i in range(n):
        write_spec(folder, f'[sampling]\ntemperature = {i % 4}\nmax_new_tokens = {900 + 100 * i}\n', f"s{i:02d}.toml")


def test_parallel_matches_serial(tmp_path):
    _specs(tmp_path, 12)
    serial = lint_paths([str(tmp_path)], Options(jobs=1, select=BUILTIN))
    parallel = lint_paths([str(tmp_path)], Options(jobs=2, select=BUILTIN))
    assert parallel.files == serial.files and len(serial.files) == 12
    assert parallel.findings == serial.findings and len(serial.findings) > 6


def test_config_error_crosses_from_a_worker(tmp_path):
    _specs(tmp_path, 4)
    (tmp_path / "llmspec.toml").write_text("[thresholds.SMP001]\nmax_temp = 1\n")
    with pytest.raises(ConfigError, match="SMP001 has no threshold 'max_temp'"):
        lint_paths([str(tmp_path)], Options(jobs=2))


def test_shared_base_reports_once(tmp_path):
    (tmp_path / "base.toml").write_text('[model]\nname = "b"\nparameters = "13B"\n\n[model.architecture]\n'
                                        'n_layers = 32\nd_model = 4096\nn_heads = 32\nffn_dim = 11008\n'
                                        'vocab_size = 32000\ncontext_length = 4096\n')
    for name in ("a.toml", "c.toml"):
        (tmp_path / name).write_text('extends = "base.toml"\n\n[model]\nname = "x"\n')
    result = lint_paths([str(tmp_path)], Options(select=["ARC003"]))
    assert len(result.files) == 3
    assert [(f.file.rsplit("/", 1)[-1], f.line) for f in result.findings] == [("base.toml", 3)]


def test_crashing_rule_is_a_finding(tmp_path, monkeypatch):
    from llmspec.lint.rules import smp001_temperature_range as module

    def boom(self, ctx):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(module.RULE, "check", boom)
    result = lint_paths([str(write_spec(tmp_path, "[sampling]\ntemperature = 1\n"))], Options(select=["SMP001", "LNT"]))
    (finding,) = result.findings
    assert finding.code == "LNT003" and "SMP001 crashed" in finding.message and "please report" in finding.message


INVALID = 'version = 1\n[model]\nname = "x"\nfamily = "llama"\n[model.architecture]\nn_layers = "many"  # llmspec: noqa: SPC002\n'


@pytest.mark.parametrize("args", [["--select", "SEC001"], ["--ignore", "SPC"], ["--ignore", "SPC002"]],
                         ids=["select-other", "ignore-family", "ignore-code"])
def test_a_spec_that_does_not_validate_is_never_hidden(tmp_path, args):
    """A spec lint could not read is an error whatever the selection, per-file ignores or noqa say: before, `--select
    SEC001` printed "All checks passed" for it with exit 0."""
    from click.testing import CliRunner

    from llmspec.cli import cli

    (tmp_path / "pyproject.toml").write_text('[tool.llmspec]\nper_file_ignores = { "*.toml" = ["SPC002"] }\n')
    spec = tmp_path / "bad.toml"
    spec.write_text(INVALID)
    result = CliRunner().invoke(cli, ["lint", *args, str(spec)])
    assert result.exit_code == 1, result.output
    assert "SPC002" in result.output
    assert "All checks passed" not in result.output
