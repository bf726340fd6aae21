"""Rule tests as data: tests/lint/cases/<CODE>.toml, one [[case]] per spec, run by one parametrised test.

A case has a `spec` (TOML; fragments are completed with a minimal [model] appended after the text, so the
positions in the case are the positions in the file) and `expect`, the list of "line:col CODE" findings of
that rule. Optional: `set` (--set overrides), `config` (an llmspec.toml text, e.g. thresholds), `severity`
(expected severity of every finding), `message` (a substring every finding's message must contain), `files`
(name -> text written beside the spec), `data` (run the opt-in data checks).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from lint_helpers import lint_spec, positions

CASES = Path(__file__).parent / "cases"
# EVL006 computes gate power with the eval extra's numpy/scipy: on a core install it reports one "not checked" finding
# instead (tests/lint/test_evl_without_numpy.py), so its cases need the extra.
NEEDS_EVAL_EXTRA = {"EVL006"}


def _cases():
    for path in sorted(CASES.glob("*.toml")):
        code = path.stem
        for i, case in enumerate(tomllib.loads(path.read_text(encoding="utf-8"))["case"]):
            yield pytest.param(code, case, id=f"{code}-{i}-{case.get('name', '')}")


@pytest.mark.parametrize(("code", "case"), list(_cases()))
def test_case(code, case, tmp_path):
    if code in NEEDS_EVAL_EXTRA:
        pytest.importorskip("numpy", reason=f"{code} needs the eval extra (pip install -e '.[eval]')")
    config = None
    for name, text in case.get("files", {}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if "config" in case:
        config = tmp_path / "llmspec.toml"
        config.write_text(case["config"], encoding="utf-8")
    result = lint_spec(tmp_path, case["spec"], select=[code], overrides=case.get("set", ()),
                       data=case.get("data", False), config=config)
    assert positions(result, code) == case["expect"], [f"{f.line}:{f.col} {f.code} {f.message}" for f in result.findings]
    for f in result.findings:
        if "severity" in case:
            assert f.severity == case["severity"]
        if "message" in case:
            assert case["message"] in f.message
        assert f.message and f.fix, "every finding says what was found and what would fix it"
