"""Fuzz every command in-process (see harness.py for the inputs and invariants). CI runs 500 examples per
command; `pytest -m fuzz_nightly tests/fuzz` runs 10x more. Derandomised: the same examples on every run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import SPECS, TEXT, examples, metamorphic_problems, run, violations, workspace
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

COMMANDS = ["check", "lint", "estimate", "report", "diff", "init", "schema", "eval"]
CI, NIGHTLY = 500, 5000
VALID = sorted(name for name in SPECS if name == "valid.toml" or name.startswith("example-"))


def _settings(n: int):
    # no shrinking: an example that breaks an invariant is reported as generated (shrinking re-runs slow cases)
    return settings(max_examples=n, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))


def _check_command(command: str, n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"llmspec-fuzz-{command}-"))

    @_settings(n)
    @given(examples(command))
    def prop(ex):
        cwd = workspace(root / "w", ex)
        res = run(ex.args, cwd)
        assert not violations(ex, res, cwd), (violations(ex, res, cwd), ex.args, res.out[-2000:], res.err[-2000:])

    prop()


def _check_free_text(n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="llmspec-fuzz-meta-"))

    @_settings(n)
    @given(st.sampled_from(VALID), TEXT, st.integers(0, 40))
    def prop(name, text, line):
        spec = SPECS[name]
        line = min(line, len(spec.split("\n")) - 1)
        from harness import Example

        cwd = workspace(root / "w", Example("lint", [], spec))
        assert not metamorphic_problems(cwd, spec, text, line)

    prop()


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_fuzz(command):
    _check_command(command, CI)


@pytest.mark.slow
def test_fuzz_free_text_never_hides_findings():
    _check_free_text(CI // 5)


@pytest.mark.fuzz_nightly
@pytest.mark.parametrize("command", COMMANDS)
def test_fuzz_nightly(command):
    _check_command(command, NIGHTLY)


@pytest.mark.fuzz_nightly
def test_fuzz_free_text_nightly():
    _check_free_text(NIGHTLY // 5)
