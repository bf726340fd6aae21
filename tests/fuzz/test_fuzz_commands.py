"""Fuzz every command in-process (see harness.py for the inputs and invariants). CI runs the corpus seeds and 500
generated examples per command (real eval runs: the seeds and 10 generated); `pytest -m fuzz_nightly tests/fuzz`
runs 10x more. Derandomised: the same examples on every run."""

from __future__ import annotations

import pytest
from harness import fuzz, fuzz_free_text

COMMANDS = ["check", "lint", "estimate", "report", "diff", "init", "schema", "eval"]
CI, NIGHTLY = 500, 5000
EVAL_CI, EVAL_NIGHTLY = 10, 200  # generated real eval runs, after the 15 seeds


def _fail(problems, ex, res=None):
    assert not problems, (problems, getattr(ex, "args", ex), res and res.out[-2000:], res and res.err[-2000:])


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_fuzz(command):
    fuzz(command, CI, _fail)


@pytest.mark.slow
def test_fuzz_free_text_never_hides_findings():
    fuzz_free_text(CI // 5, _fail)


@pytest.mark.slow
@pytest.mark.eval
def test_fuzz_eval_runs():
    """Real eval runs of the tiny model on crafted checkpoints, suites and caches (evalrun.py): the issue's inputs
    and a few generated cases (each is a model load; the dry-run family above covers the rest of eval)."""
    pytest.importorskip("lm_eval")
    from evalrun import fuzz_eval

    fuzz_eval(EVAL_CI, _fail)


@pytest.mark.fuzz_nightly
@pytest.mark.parametrize("command", COMMANDS)
def test_fuzz_nightly(command):
    fuzz(command, NIGHTLY, _fail)


@pytest.mark.fuzz_nightly
def test_fuzz_free_text_nightly():
    fuzz_free_text(NIGHTLY // 5, _fail)


@pytest.mark.fuzz_nightly
@pytest.mark.eval
def test_fuzz_eval_runs_nightly():
    pytest.importorskip("lm_eval")
    from evalrun import fuzz_eval

    fuzz_eval(EVAL_NIGHTLY, _fail)
