"""Which files lint treats as specs (decided by parsing, never by text markers), and where suppressions count
(only in real TOML comments, on lines counted as TOML counts them). Issue 11, findings 2 and 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from lint_helpers import BUILTIN

from llmspec.cli import cli
from llmspec.lint.discover import is_spec
from llmspec.lint.docs import MINIMAL_ARCHITECTURE
from llmspec.lint.engine import Options, lint_paths
from llmspec.lint.noqa import parse
from llmspec.spec import tomltext

ARCH = MINIMAL_ARCHITECTURE.split("]", 1)[1]
RISKY = 'trust_remote_code = true\nweights = "http://example.com/w.safetensors"\n'  # SEC001 + SEC004


def _lint(path: Path, *args: str):
    return CliRunner().invoke(cli, ["lint", "--strict", "-f", "concise", *args, str(path)])


def _codes(path: Path) -> list[str]:
    return [f.code for f in lint_paths([str(path)], Options(select=BUILTIN)).findings]


QUOTED = {
    "quoted-headers": f'["model"]\nname = "m"\n{RISKY}\n["model"."architecture"]{ARCH}',
    "quoted-inline": '"model" = { name = "m", trust_remote_code = true, architecture = { n_layers = 32, d_model = 4096, '
    'n_heads = 32, ffn_dim = 11008, vocab_size = 32000, context_length = 4096 } }\n',
    "literal-quoted": f"['model']\nname = 'm'\n{RISKY}\n['model'.'architecture']{ARCH}",
    "dotted-keys": 'model.name = "m"\nmodel.trust_remote_code = true\n'
    + "".join(f"model.architecture.{line}\n" for line in ARCH.strip().splitlines() if "=" in line),
}


@pytest.mark.parametrize("name", sorted(QUOTED))
def test_specs_with_quoted_keys_are_linted(tmp_path, name):
    path = tmp_path / "spec.toml"
    path.write_text(QUOTED[name], encoding="utf-8")
    assert is_spec(path)
    result = _lint(path)
    assert "SEC001" in result.output and result.exit_code == 1, result.output
    assert "no spec files found" not in result.output


def test_long_leading_comment_does_not_hide_a_spec(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text("#" + "x" * 300_000 + "\n" + f'[model]\nname = "m"\n{RISKY}\n[model.architecture]{ARCH}',
                    encoding="utf-8")
    assert "SEC001" in _codes(path)


@pytest.mark.parametrize("name, text", [
    ("pyproject.toml", '[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n'),
    ("Cargo.toml", '[package]\nname = "model"\nversion = "0.1.0"\n[dependencies]\nmodel = "1"\n'),
    ("tool.toml", '# [model]\n# extends = "x"\n[settings]\ntext = """\n[model]\nextends = "base.toml"\n"""\n'),
    ("broken-cargo.toml", '[package]\nname = "x"\n[dependencies\n'),
])
def test_other_toml_files_are_skipped_by_parsed_content(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = _lint(path)
    assert result.exit_code == 0 and "no spec files found" in result.output, result.output


def test_a_base_spec_without_model_is_a_spec(tmp_path):
    path = tmp_path / "base.toml"
    path.write_text('[training]\nmethod = "lora"\nepochs = 2\n', encoding="utf-8")
    assert is_spec(path)


def test_broken_toml_that_may_be_a_spec_is_reported(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('["model"]\nname = "m\n', encoding="utf-8")
    result = _lint(path)
    assert "SPC001" in result.output and result.exit_code == 1, result.output


# -- suppressions only inside comments ---------------------------------------------------------------------------
def test_noqa_file_inside_a_multiline_string_suppresses_nothing(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(f'[meta]\ndescription = """\n# llmspec: noqa-file\n"""\n[model]\nname = "m"\n{RISKY}'
                    f"[model.architecture]{ARCH}", encoding="utf-8")
    result = _lint(path)
    assert "SEC001" in result.output and "SEC004" in result.output and result.exit_code == 1, result.output
    assert "All checks passed" not in result.output


def test_noqa_inside_a_string_does_not_hide_a_schema_error(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('[model]\nname = "m # llmspec: noqa-file"\nlayers = 3\n' + f"[model.architecture]{ARCH}",
                    encoding="utf-8")
    assert "SPC002" in _codes(path)


def test_noqa_inside_a_single_line_string_on_the_finding_line(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('[model]\nname = "m"\ntrust_remote_code = true\nrevision = "# llmspec: noqa"\n'
                    f"[model.architecture]{ARCH}", encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    assert parse(str(path), text) == []


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])  # TOML allows these in comments
def test_unicode_line_separators_do_not_move_a_suppression(tmp_path, separator):
    path = tmp_path / "spec.toml"
    path.write_text(f'[model]\nname = "m"  # note{separator}b # llmspec: noqa\ntrust_remote_code = true\n'
                    f"[model.architecture]{ARCH}", encoding="utf-8")
    codes = _codes(path)
    assert "SEC001" in codes  # the suppression is on line 2; SEC001 is on line 3


def test_suppression_in_a_comment_still_works_and_counts_toml_lines(tmp_path):
    text = 'a = "x\u2028y"\nb = 1  # llmspec: noqa: SEC001\n'
    (found,) = parse("f.toml", text)
    assert (found.line, found.col, found.codes) == (2, 8, frozenset({"SEC001"}))


def test_suppression_does_not_continue_on_the_next_line():
    (found,) = parse("f.toml", "a = 1  # llmspec: noqa:\nb = 2\n")
    assert found.codes == frozenset()  # "noqa:" with no code: suppresses nothing, and "b" is not a code


def test_toml_lines_split_only_at_lf():
    assert tomltext.lines("a\u2028b\r\nc\rd\x0be\nf") == ["a\u2028b", "c\rd\x0be", "f"]


def test_source_line_shown_under_a_finding_counts_toml_lines(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(f'[model]\nname = "m"  # \u2028 x\ntrust_remote_code = true\n[model.architecture]{ARCH}',
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["lint", "--select", "SEC001", str(path)])
    assert "3 | trust_remote_code = true" in result.output, result.output
