"""Every bad input gives its exact one-line problems (file:line:col) and exit 2, through the real CLI.

The table of cases is data in bad_cases.py. A few cases also run as a real subprocess, to prove that nothing
reaches stderr and no traceback escapes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_cases import CASES, Case
from spec_helpers import run_cli, run_subprocess


def _materialise(case: Case, tmp_path: Path) -> list[str]:
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return [arg.replace("{tmp}", str(tmp_path)) for arg in case.args]


def _expected(case: Case, tmp_path: Path) -> list[str]:
    return [line.replace("{tmp}", str(tmp_path)) for line in case.expected]


# Cases the spine does not handle yet; each flips to a failure (strict xfail) once it is fixed.
KNOWN_GAPS: dict[str, str] = {}  # case id -> reason, for known spine gaps (strict xfail)


def _params() -> list:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(reason=KNOWN_GAPS[case.id], strict=True)] if case.id in KNOWN_GAPS else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_check_reports_exact_lines(case: Case, tmp_path: Path) -> None:
    args = _materialise(case, tmp_path)
    result = run_cli("check", *args, cwd=tmp_path)
    assert result.lines == _expected(case, tmp_path)
    assert result.code == 2
    assert "Traceback" not in result.out + result.err
    assert "internal error" not in result.out + result.err


SUBPROCESS_CASES = ["binary-junk", "deeply-nested-arrays", "extends-cycle", "several-problems-in-file-order", "nan"]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS_CASES], ids=SUBPROCESS_CASES)
def test_check_subprocess_has_no_traceback(case: Case, tmp_path: Path) -> None:
    args = _materialise(case, tmp_path)
    result = run_subprocess("check", *args, cwd=tmp_path)
    assert result.code == 2
    assert result.out.splitlines() == _expected(case, tmp_path)
    assert result.err == ""  # problems go to stdout; nothing else is printed, certainly no traceback


def test_every_listed_subprocess_case_exists() -> None:
    assert set(SUBPROCESS_CASES) <= {c.id for c in CASES}


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_absolute_path_is_reported_as_given(tmp_path: Path) -> None:
    spec = tmp_path / "abs.toml"
    spec.write_text("[model]\nname = 5\nhf_config = \"c.json\"\n", encoding="utf-8")
    result = run_cli("check", str(spec))
    assert result.lines == [
        f"{spec}:2:1: model.name: expected a string, got 5",
        f"{spec}:3:1: model.hf_config: 'c.json' not found (relative to {spec})",
    ]
    assert result.code == 2


def test_problems_go_to_stdout_and_ok_lines_are_quiet_with_q(tmp_path: Path) -> None:
    from spec_helpers import MINIMAL

    (tmp_path / "good.toml").write_text(MINIMAL, encoding="utf-8")
    assert run_cli("check", "good.toml", cwd=tmp_path).lines == ["good.toml: ok"]
    quiet = run_cli("check", "-q", "good.toml", cwd=tmp_path)
    assert (quiet.code, quiet.lines) == (0, [])
