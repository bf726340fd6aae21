"""Run the frozen per-family accuracy cases (family_cases.py) and write their table (memory_accuracy.py
--families)."""

from __future__ import annotations

import gc
import json
import statistics
import tempfile
from pathlib import Path

from family_cases import FROZEN, HERE, run

RESULTS = HERE / "memory_accuracy_families.json"
TOLERANCE = 0.05


def table(rows: list[dict]) -> str:
    mib = 2**20
    out = ["| case | size | family | real class | set-up | estimate MiB | measured MiB | error | peak (est / meas) | s |",
           "|---|---|---|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        setup = " ".join(o.split(".", 1)[1] for o in r["overrides"]) or "prefill"
        out.append(f"| {r['id']} | {r['size']} | {r['family']} | {r['model_class']} | {setup} | "
                   f"{r['estimate_bytes'] / mib:.1f} | {r['measured_bytes'] / mib:.1f} | {100 * r['error']:+.1f}% | "
                   f"{r['estimate_phase']} / {r['measured_phase']} | {r['seconds']} |")
    for size in ("reduced", "held-out"):
        errs = [abs(r["error"]) for r in rows if r["size"] == size]
        if errs:
            bad = [r["id"] for r in rows if r["size"] == size and abs(r["error"]) > TOLERANCE]
            out += ["", f"**{size}**: {len(errs)} cases, median |error| {100 * statistics.median(errs):.1f}%, mean "
                        f"{100 * sum(errs) / len(errs):.1f}%, max {100 * max(errs):.1f}%, within 5%: "
                        f"{len(errs) - len(bad)}/{len(errs)}" + (f"; outside: {', '.join(bad)}" if bad else "")]
    out += ["", "| family | reduced: within 5% | reduced: worst error | held-out: within 5% | "
                "held-out: worst error |", "|---|---:|---:|---:|---:|"]
    for fam in dict.fromkeys(r["family"] for r in rows):
        cells = []
        for size in ("reduced", "held-out"):
            errs = [abs(r["error"]) for r in rows if r["family"] == fam and r["size"] == size]
            cells += [f"{sum(e <= TOLERANCE for e in errs)}/{len(errs)}", f"{100 * max(errs):.1f}%"] if errs else ["", ""]
        out.append(f"| {fam} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def run_families(size: str, write: bool = True, table_only: bool = False) -> int:
    cases = [c for c in json.loads(FROZEN.read_text()) if (size == "all" or c["size"] == size) and not table_only]
    previous = {r["id"]: r for r in json.loads(RESULTS.read_text())} if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            row = run(case, Path(tmp))
            previous[row["id"]] = row
            gc.collect()
            print(f"{row['id']:28s} {row['model_class']:22s} est {row['estimate_bytes'] / 2**30:8.3f} GiB  meas "
                  f"{row['measured_bytes'] / 2**30:8.3f} GiB  {100 * row['error']:+6.1f}%  ({row['seconds']} s)",
                  flush=True)
    order = [c["id"] for c in json.loads(FROZEN.read_text())]
    rows = [previous[i] for i in order if i in previous]
    if write:
        RESULTS.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        md = HERE / "memory_accuracy.md"
        text = md.read_text(encoding="utf-8")
        begin, end = "<!-- families:begin -->", "<!-- families:end -->"
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        md.write_text(f"{head}{begin}\n{table(rows)}\n{end}{tail}", encoding="utf-8")
    return 0
