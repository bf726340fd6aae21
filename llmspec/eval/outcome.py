"""How an eval run ends: the exit codes, their verdict words and the outcome object.

One place for both, so the runner, the executor, the gates and the CLI agree (and execute.py needs nothing from
runner.py). Exit codes: 0 every gate passed, 1 a gate failed, 2 usage or config error (including a gate that
could not be evaluated), 3 infrastructure error (model missing, out of memory, task error, timeout, interrupt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PASSED, FAILED, USAGE, INFRA = 0, 1, 2, 3
Verdict = Literal["PASSED", "FAILED", "ERROR", "INCOMPLETE"]
VERDICTS: dict[int, Verdict] = {PASSED: "PASSED", FAILED: "FAILED", USAGE: "ERROR", INFRA: "INCOMPLETE"}


def verdict(exit_code: int) -> Verdict:
    """The word for an exit code; any code other than 0/1/2 reads INCOMPLETE (never PASSED)."""
    return VERDICTS.get(exit_code, "INCOMPLETE")


@dataclass
class EvalOutcome:
    exit_code: int
    reason: str
    results: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return verdict(self.exit_code)
