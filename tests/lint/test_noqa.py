"""Suppressions: line and file level, bare and with codes, unused (LNT001) and unknown (LNT002) ones."""

from __future__ import annotations

from lint_helpers import lint_spec, positions

HOT = '''[sampling]
temperature = 3{comment}
top_p = 1.5
'''


def test_line_noqa_with_code(tmp_path):
    result = lint_spec(tmp_path, HOT.format(comment="  # llmspec: noqa: SMP001"))
    assert positions(result) == ["3:1 SMP003"]


def test_line_noqa_bare(tmp_path):
    result = lint_spec(tmp_path, HOT.format(comment="  # llmspec: noqa"))
    assert positions(result) == ["3:1 SMP003"]


def test_other_code_does_not_suppress_and_is_unused(tmp_path):
    result = lint_spec(tmp_path, HOT.format(comment="  # llmspec: noqa: SMP003"))
    assert positions(result) == ["2:1 SMP001", "2:18 LNT001", "3:1 SMP003"]


def test_file_level(tmp_path):
    result = lint_spec(tmp_path, "# llmspec: noqa-file: SMP001, SMP003\n" + HOT.format(comment=""))
    assert positions(result) == []


def test_file_level_unused_code(tmp_path):
    result = lint_spec(tmp_path, "# llmspec: noqa-file: SMP001,SEC001\n" + HOT.format(comment=""))
    assert positions(result) == ["1:1 LNT001", "4:1 SMP003"]
    assert "SEC001" in result.findings[0].message


def test_unknown_code(tmp_path):
    result = lint_spec(tmp_path, HOT.format(comment="  # llmspec: noqa: SMP001, XYZ999"))
    assert positions(result) == ["2:18 LNT002", "3:1 SMP003"]


def test_unused_bare(tmp_path):
    result = lint_spec(tmp_path, '[sampling]\ntemperature = 0.5  # llmspec: noqa\n')
    assert positions(result) == ["2:20 LNT001"]


def test_suppression_of_a_rule_not_selected_is_not_unused(tmp_path):
    result = lint_spec(tmp_path, HOT.format(comment="  # llmspec: noqa: SMP001"), select=["SMP003", "LNT"])
    assert positions(result) == ["3:1 SMP003"]


def test_lnt001_can_be_ignored(tmp_path):
    (tmp_path / "llmspec.toml").write_text('ignore = ["LNT001"]\n')
    result = lint_spec(tmp_path, '[sampling]\ntemperature = 0.5  # llmspec: noqa\n')
    assert positions(result) == []


def test_reason_after_the_codes(tmp_path):
    result = lint_spec(tmp_path, HOT.format(comment="  # llmspec: noqa: SMP001 ok for this demo, see PR 12"))
    assert positions(result) == ["3:1 SMP003"]


def test_lowercase_codes_and_spacing(tmp_path):
    result = lint_spec(tmp_path, HOT.format(comment="  #llmspec:noqa:smp001"))
    assert positions(result) == ["3:1 SMP003"]


def test_malformed_codes_suppress_nothing(tmp_path):
    result = lint_spec(tmp_path, HOT.format(comment="  # llmspec: noqa: temperature"))
    assert positions(result) == ["2:1 SMP001", "2:18 LNT002", "3:1 SMP003"]
    assert "followed by no rule code" in result.findings[1].message
