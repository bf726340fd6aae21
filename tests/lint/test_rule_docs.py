"""Meta-tests: every rule documents itself (Why / Bad / Good), its Bad examples fire it and its Good ones do not,
every rule has a case file, and docs/rules.md is the current rendering of the docstrings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lint_helpers import lint_spec

from llmspec.lint.docs import examples, reference_markdown, sections
from llmspec.lint.registry import BUILTIN_MODULES, builtin_rules

ROOT = Path(__file__).resolve().parents[2]
RULES = builtin_rules()


def _examples(kind):
    for cls in RULES:
        for i, toml in enumerate(examples(cls.doc(), kind)):
            yield pytest.param(cls, toml, id=f"{cls.code}-{kind}-{i}")


def _prepare(tmp_path: Path) -> None:
    # examples that name data files (OVF010) find them in data/ beside the spec
    shutil.copytree(ROOT / "tests" / "lint" / "data", tmp_path / "data")


@pytest.mark.parametrize(("cls", "toml"), list(_examples("Bad")))
def test_bad_example_fires(cls, toml, tmp_path):
    _prepare(tmp_path)
    result = lint_spec(tmp_path, toml, select=[cls.code], data=bool(cls.opt_in))
    assert [f.code for f in result.findings] and {f.code for f in result.findings} == {cls.code}, result.findings


@pytest.mark.parametrize(("cls", "toml"), list(_examples("Good")))
def test_good_example_passes(cls, toml, tmp_path):
    _prepare(tmp_path)
    result = lint_spec(tmp_path, toml, select=[cls.code], data=bool(cls.opt_in))
    assert not result.findings, result.findings


@pytest.mark.parametrize("cls", RULES, ids=lambda c: c.code)
def test_rule_is_documented(cls):
    parts = sections(cls.doc())
    assert parts["summary"] and parts["body"], "a summary line and what the rule checks"
    assert parts.get("Why"), "a Why: section with the evidence and its source"
    assert examples(cls.doc(), "Bad") and examples(cls.doc(), "Good")
    if cls.thresholds:
        assert parts.get("Thresholds"), "thresholds are stated with their source"
        for key in cls.thresholds:
            assert key in parts["Thresholds"], f"threshold {key} is not documented"


@pytest.mark.parametrize("cls", RULES, ids=lambda c: c.code)
def test_rule_has_case_file(cls):
    path = ROOT / "tests" / "lint" / "cases" / f"{cls.code}.toml"
    assert path.is_file()
    text = path.read_text(encoding="utf-8")
    assert "expect = []" in text, "at least one passing case"
    assert f" {cls.code}\"" in text, "at least one failing case"


def test_module_names_match_codes():
    for name, cls in zip(BUILTIN_MODULES, RULES):
        assert name.startswith(cls.code.lower() + "_"), (name, cls.code)
    assert len({cls.code for cls in RULES}) == len(RULES)
    assert len({cls.name for cls in RULES}) == len(RULES)


def test_rules_md_is_current():
    expected = reference_markdown(RULES)
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == expected, "regenerate: llmspec rules --format markdown > docs/rules.md"
