"""`llmspec sweep report`: the best trials of a run, the counts per state and the held-out gap."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from llmspec.sweep.engine import best_trials
from llmspec.sweep.trial import SweepError, read_trials


def report_data(out: str | Path, k: int = 5) -> dict[str, Any]:
    rows = read_trials(Path(out))
    trials = [r for r in rows if r.get("state") != "holdout"]
    if not trials:
        raise SweepError(f"{Path(out) / 'trials.jsonl'}: no trials recorded")
    head = trials[0]
    direction, metric = head.get("direction", "maximize"), head.get("metric", "?")
    holdout = [r for r in rows if r.get("state") == "holdout"]
    return {
        "engine": head.get("engine"), "spec": head.get("spec"), "metric": metric, "direction": direction,
        "states": dict(Counter(r.get("state") for r in trials)),
        "best": best_trials(trials, direction, k),
        "holdout": holdout[-1] if holdout else None,
    }


def _value(x: Any) -> str:
    return "n/a" if x is None else f"{x:.6g}"


def report_text(out: str | Path, k: int = 5) -> str:
    data = report_data(out, k)
    states = ", ".join(f"{n} {s}" for s, n in sorted(data["states"].items()))
    lines = [f"sweep of {data['spec']} on {data['engine']}: {states}",
             f"objective: {data['direction']} {data['metric']}"]
    if not data["best"]:
        lines.append("no trial completed")
    for rank, row in enumerate(data["best"], 1):
        params = ", ".join(f"{key}={json.dumps(value)}" for key, value in row.get("overrides", {}).items())
        lines.append(f"  {rank}. trial {row['number']}: {_value(row['value'])}  ({params})")
    hold = data["holdout"]
    if hold is not None:
        worse = (hold["gap"] < 0) if data["direction"] == "maximize" else (hold["gap"] > 0)
        lines.append(f"held-out check of trial {hold['number']}: {hold['metric']} = {_value(hold['value'])} vs "
                     f"{_value(hold['validation_value'])} on validation (gap {hold['gap']:+.4g}"
                     + ("; worse on the held-out suite)" if worse else "; not worse on the held-out suite)"))
    else:
        lines.append("no held-out check: set [sweep.objective] holdout_suite to confirm the winner on data "
                     "it was not tuned on")
    return "\n".join(lines)
