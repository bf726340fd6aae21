"""Data loader for the sweep demo suites: slices of the smoke suite's held-out knowledge-base text.

The validation suite (kb_val) and the held-out suite (kb_test) read disjoint rows of the same file, so a sweep
tuned on one is confirmed on text it never saw. lm-eval imports this module from beside the task YAMLs.
"""

from __future__ import annotations

import json
from pathlib import Path

SMOKE = Path(__file__).resolve().parents[4] / "suites" / "smoke"


def load(data_file: str, start: int = 0, stop: int | None = None, split: str = "test", **_ignored):
    import datasets

    lines = (SMOKE / data_file).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line][start:stop]
    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows)})
