"""`# llmspec: noqa` in YAML training configs: only real YAML comments count (PyYAML's scanner tells them from
strings), on the line of the finding, or for the whole file."""

from __future__ import annotations

import pytest
from bridge_helpers import run_cli

from llmspec.bridges.yamlfile import comments, position
from llmspec.lint.noqa import parse

HEAD = "model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 1024\n"


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _lint(text: str, *args: str) -> str:
    import pathlib

    pathlib.Path("train.yaml").write_text(text)
    result = run_cli("lint", "--no-color", "-f", "concise", "train.yaml", *args)
    assert result.code in (0, 1), result.out + result.err
    return result.out


def test_noqa_on_the_line_of_the_finding(here):
    out = _lint(HEAD + "learning_rate: 2.0e-4  # llmspec: noqa: OVF005 LoRA-sized on purpose\n")
    assert "OVF005" not in out and "LNT001" not in out
    out = _lint(HEAD + "learning_rate: 2.0e-4\n")
    assert "train.yaml:3:1: OVF005" in out


def test_noqa_on_another_line_does_not_suppress(here):
    out = _lint(HEAD + "# llmspec: noqa: OVF005\nlearning_rate: 2.0e-4\n")
    assert "train.yaml:4:1: OVF005" in out and "train.yaml:3:1: LNT001" in out


def test_file_level_noqa(here):
    out = _lint("# llmspec: noqa-file: OVF005, BRG001\n" + HEAD + "learning_rate: 2.0e-4\n")
    assert "OVF005" not in out and "BRG001" not in out and "LNT001" not in out


@pytest.mark.parametrize("line", [
    'output_dir: "x # llmspec: noqa: OVF005"',
    "output_dir: 'x # llmspec: noqa-file: OVF005'",
    "output_dir: x#llmspec:noqa:OVF005",  # no space before '#': part of the plain scalar
    "output_dir: |\n  # llmspec: noqa-file: OVF005\n  text",  # inside a block scalar
    'output_dir: "first\n  # llmspec: noqa-file: OVF005"',  # a quoted scalar over two lines
    "output_dir: [a, 'b # llmspec: noqa-file: OVF005']",
    "output_dir: !!str '# llmspec: noqa-file: OVF005'",
])
def test_strings_that_look_like_noqa_do_not_suppress(here, line):
    out = _lint(HEAD + line + "\nlearning_rate: 2.0e-4\n")
    assert "OVF005 [warning] learning_rate = 2e-4" in out, out


def test_comment_after_a_block_scalar_header_counts(here):
    text = HEAD + "output_dir: |  # llmspec: noqa-file: OVF005\n  data\nlearning_rate: 2.0e-4\n"
    assert "OVF005" not in _lint(text)


def test_unknown_code_in_a_yaml_noqa(here):
    out = _lint(HEAD + "learning_rate: 2.0e-5  # llmspec: noqa: XYZ999\n")
    assert "train.yaml:3:24: LNT002" in out and "'XYZ999', which is no rule's code" in out


def test_comments_are_found_by_the_yaml_scanner():
    text = 'a: "# not"  # yes\nb: |\n  # not\n# yes too\nc: x#not\n'
    found = [(position(text, i), body) for i, body in comments(text)]
    assert found == [((1, 13), "# yes"), ((4, 1), "# yes too")]


def test_lines_are_counted_as_pyyaml_counts_them():
    # "\r" alone and U+2028 end a line in YAML 1.1 (PyYAML): the suppression is on line 2, not line 1
    for brk in ("\r", "\u2028", "\n", "\r\n"):
        text = f"a: 1{brk}b: 2  # llmspec: noqa: OVF005\n"
        (s,) = parse("x.yaml", text)
        assert (s.line, s.col, s.codes) == (2, 7, frozenset({"OVF005"}))


def test_a_yaml_syntax_error_has_no_suppressions():
    assert parse("x.yaml", "a: [1  # llmspec: noqa-file\n") == []
