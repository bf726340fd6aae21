"""Speed of `llmspec sweep plan`: points per second through the fast path and the full lint, against today's
`lint` path (each point written out as a spec file and linted with lint_paths), measured in the same run.

    python benchmarks/sweep_speed.py            # writes benchmarks/sweep_speed.md

Spaces (all from examples/sweeps/llama2-7b-lora-sweep.toml, method = "random", seeded):
- "typical": the example's five parameters (learning rate, LoRA rank, micro-batch, seq_len, checkpointing);
  points that differ only in the learning rate share one estimate (the estimator does not read it);
- "own compute estimate": dataset_tokens swept as an int too, so nearly every point needs its own compute
  estimate (memory does not depend on it and is shared);
- "own memory and compute estimate": also seq_len over every length from 256 to 4096 and gradient accumulation
  1..64, so nearly every point needs its own memory estimate as well: the worst case.
Rates are per wall-clock second in one process; the CPU time is reported beside them, since the machine is shared.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmspec.lint import Options, lint_paths  # noqa: E402
from llmspec.spec.loader import load_spec  # noqa: E402
from llmspec.sweep.fast import FastPath, with_overrides  # noqa: E402
from llmspec.sweep.plan import make_plan  # noqa: E402
from llmspec.sweep.space import points  # noqa: E402
from llmspec.sweep.toml_out import dumps  # noqa: E402

SPEC = ROOT / "examples" / "sweeps" / "llama2-7b-lora-sweep.toml"
FAST_POINTS = 20_000
LINT_POINTS = 2_000
FILE_POINTS = 300
RUNS = 3
TARGET = 10_000


HEAVY = """
[sweep.parameters."training.dataset_tokens"]
distribution = "int"
low = 1_000_000
high = 900_000_000
"""
WORST = """
[sweep.parameters."training.dataset_tokens"]
distribution = "int"
low = 1_000_000
high = 900_000_000

[sweep.parameters."training.gradient_accumulation"]
distribution = "int"
low = 1
high = 64
"""
# WORST also replaces the seq_len choice by every length from 256 to 4096 (see _spec)


def _spec(extra: str, n: int):
    text = SPEC.read_text(encoding="utf-8")
    if extra is WORST:
        text = text.replace('[sweep.parameters."training.seq_len"]\nvalues = [2048, 4096]',
                            '[sweep.parameters."training.seq_len"]\ndistribution = "int"\nlow = 256\nhigh = 4096')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "space.toml"
        path.write_text(text + extra, encoding="utf-8")
        return load_spec(path, ("sweep.method=random", f"sweep.budget.max_trials={n}"))


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def fast_rate(extra: str) -> tuple[float, float, dict]:
    spec = _spec(extra, FAST_POINTS)
    runs = [_timed(lambda: make_plan(spec, lint=False)) for _ in range(RUNS)]
    plan = make_plan(spec, lint=False)
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    return FAST_POINTS / wall, FAST_POINTS / cpu, plan.counts()


def lint_rate() -> tuple[float, float]:
    spec = _spec("", LINT_POINTS)
    wall, cpu = _timed(lambda: make_plan(spec, lint=True))
    plan = make_plan(spec, lint=False)
    fast = plan.fast_seconds
    linted = LINT_POINTS  # every point of this space is a valid spec
    return linted / max(wall - fast, 1e-9), linted / max(cpu - fast, 1e-9)


def file_rate() -> tuple[float, float]:
    """Today's path: each point as a spec file, `lint_paths` over them in one process (no worker processes)."""
    spec = _spec("", FILE_POINTS)
    fast = FastPath(spec)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, point in enumerate(points(spec.sweep, fast.values)):
            path = Path(tmp) / f"point{i:05d}.toml"
            path.write_text(dumps(with_overrides(fast.doc, point)), encoding="utf-8")
            files.append(str(path))
        wall, cpu = _timed(lambda: lint_paths(files, Options(jobs=1)))
    return len(files) / wall, len(files) / cpu


def main() -> None:
    typical = fast_rate("")
    heavy = fast_rate(HEAVY)
    worst = fast_rate(WORST)
    full = lint_rate()
    files = file_rate()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = [
        (f"fast path, typical space ({FAST_POINTS:,} points, median of {RUNS})", typical),
        (f"fast path, own compute estimate per point ({FAST_POINTS:,} points, median of {RUNS})", heavy),
        (f"fast path, own memory and compute estimate per point: worst case ({FAST_POINTS:,} points, median of "
         f"{RUNS})", worst),
        (f"fast path + full lint of every point ({LINT_POINTS:,} points; lint part alone)", full),
        (f"today's lint path: each point a spec file, `lint_paths` in one process ({FILE_POINTS} points)", files),
    ]
    lines = [
        "# `llmspec sweep plan` speed",
        "",
        f"Measured by `python benchmarks/sweep_speed.py` on {date.today().isoformat()}: Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU(s), load average {load} at the end of the run (the "
        "machine is shared; all paths ran in this one process, so their ratios are fair even when the "
        "absolute rates are not).",
        "",
        "| path | points/s (wall) | points/s (CPU) |",
        "|---|---:|---:|",
        *(f"| {name} | {wall:,.0f} | {cpu:,.0f} |" for name, (wall, cpu, *_) in rows),
        "",
        f"Target: at least {TARGET:,} points/s validated, estimated and judged by the memory and budget rules "
        f"in one process. Typical space: **{typical[0]:,.0f} points/s** "
        f"({typical[0] / files[0]:,.0f}x today's lint path); own compute estimate per point: {heavy[0]:,.0f} "
        f"points/s; worst case (own memory and compute estimate per point): {worst[0]:,.0f} points/s.",
        "",
        f"Verdicts of the typical space: {typical[2]}. Own compute estimate: {heavy[2]}. Worst case: {worst[2]}.",
        "",
        "The fast path validates each point with pydantic (the tables the point changes, with all their "
        "validators: the same errors as `llmspec check`), estimates it (training and serving memory, compute), "
        "applies the error conditions of MEM001, MEM003 and BUD001-BUD003, runs the other error-level lint rules on "
        "the points that pass them (those that read no swept table once, on the base spec), and applies the "
        "sweep's own budget. The training and compute estimates share their static parts between points that "
        "differ only in the batch shape (llmspec.estimate.training.training_static). "
        "tests/sweep/test_equivalence.py checks its verdicts against `check` + `lint` of the same points "
        "written out as spec files.",
    ]
    out = ROOT / "benchmarks" / "sweep_speed.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
