"""The reduced-shape version of benchmarks/memory_accuracy.py --families: for every registry family, the analytic
estimate against --measure on the family's real class, within 5%.

The cases are the frozen ones (benchmarks/memory_accuracy_cases.json). The few the analytic model does not yet
reach are listed in KNOWN_GAPS with the measured error, as strict xfails: the test fails when one of them starts
to agree (so the list cannot go stale) and when any other case leaves 5%."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.eval, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
CASES = [c for c in json.loads((BENCH / "memory_accuracy_cases.json").read_text()) if c["size"] == "reduced"]

# case id -> why (measured error before the fix that is still missing); empty since the MoE-LoRA, MoE-prefill,
# eager / math-kernel attention and soft-capping terms (benchmarks/memory_accuracy.md)
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_estimate_within_5_percent_of_the_real_class(case, tmp_path, request):
    from family_cases import run

    from llmspec.spec.families import FAMILIES

    if case["id"] in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_GAPS[case["id"]], strict=True))
    row = run(case, tmp_path)
    assert row["model_class"] == FAMILIES[case["family"]].hf_class
    assert abs(row["error"]) <= 0.05, row
