"""Blind held-out rounds of the per-family accuracy cases (issue 9): the runner. Each round's rule is the docstring
of its own module, ``family_blind_round<N>.py``, committed together with the round's frozen case list before any
of its cases ran; nothing is refitted on a blind round.

    python benchmarks/family_blind.py --freeze --round N   # write the round's case list (no model is built); a
                                                           # list already written is never changed
    python benchmarks/family_blind.py --check --round N    # exit 1 unless the rule still writes the frozen list
    python benchmarks/family_blind.py --smoke --round N    # each case's set-up once at round 1's reduced shape
                                                           # (not a blind case): prints only whether it ran
    python benchmarks/family_blind.py --run --round N      # run every case once: results json + md section;
                                                           # refused once the round has results
    python benchmarks/family_blind.py --rerun --round N    # the same cases on today's code: a separate json and
                                                           # md section (the blind figure stays the first run's)

Files: round 2 (the first blind round) writes memory_accuracy_blind_cases.json, memory_accuracy_blind.json and
memory_accuracy_blind_rerun.json, and fills the md markers ``blind`` / ``blind-rerun``; round N >= 3 the same
with ``blind<N>``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from family_cases import HERE, architecture, measure_case, real_shape, spec_toml

ROUNDS = (2, 3, 4, 5)
TOLERANCE = 0.05
REDUCED_TOKENS = 128  # --smoke: tokens per sequence at the reduced shape


class Files(NamedTuple):
    cases: Path  # the frozen case list
    results: Path  # the one blind run
    rerun: Path  # the same cases on later code (not blind)
    marker: str  # memory_accuracy.md section: <!-- marker:begin --> ... <!-- marker:end -->


def files(n: int) -> Files:
    tag = "blind" if n == 2 else f"blind{n}"
    return Files(HERE / f"memory_accuracy_{tag}_cases.json", HERE / f"memory_accuracy_{tag}.json",
                 HERE / f"memory_accuracy_{tag}_rerun.json", tag)


def cases(n: int) -> list[dict]:
    """The round's cases, from its rule (``family_blind_round<N>.cases``); no model is built."""
    return importlib.import_module(f"family_blind_round{n}").cases()


def frozen_text(n: int) -> str:
    return json.dumps(cases(n), indent=1) + "\n"


def spec_text(case: dict) -> str:
    # round 2's list predates the "blocks" field: its rule is 3 blocks (family_blind_round2.BLOCKS)
    family, a = real_shape(case["preset"], case.get("blocks", 3))
    if case["mode"] == "training":
        return spec_toml(case["preset"], family, a, (case["batch"], case["seq"]), None)
    return spec_toml(case["preset"], family, a, (1, 1024), {"batch_size": case["batch"], "seq_len": case["seq"]})


def smoke_text(case: dict) -> str:
    """The case's set-up at round 1's reduced shape (d_model 256, 2 blocks, vocabulary 2048): not a blind case."""
    family, a = architecture(case["preset"], "reduced")
    tokens = min(case["seq"], REDUCED_TOKENS)
    if case["mode"] == "training":
        return spec_toml(case["preset"], family, a, (case["batch"], tokens), None)
    return spec_toml(case["preset"], family, a, (1, tokens), {"batch_size": case["batch"], "seq_len": tokens})


def table(rows: list[dict]) -> str:
    mib = 2**20
    blocks = sorted({r.get("blocks", 3) for r in rows})
    out = [f"| case | checkpoint ({'/'.join(map(str, blocks))} blocks) | real class | set-up | estimate MiB | "
           "measured MiB | error | peak (est / meas) |", "|---|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        setup = f"batch {r['batch']} x {r['seq']} " + " ".join(o.split(".", 1)[1] for o in r["overrides"])
        out.append(f"| {r['id']} | {r['preset']} | {r['model_class']} | {setup} | {r['estimate_bytes'] / mib:.1f} | "
                   f"{r['measured_bytes'] / mib:.1f} | {100 * r['error']:+.1f}% | "
                   f"{r['estimate_phase']} / {r['measured_phase']} |")
    errs = [abs(r["error"]) for r in rows]
    bad = [f"{r['id']} ({100 * r['error']:+.1f}%)" for r in rows if abs(r["error"]) > TOLERANCE]
    worst = max(rows, key=lambda r: abs(r["error"]))
    out += ["", f"**{len(errs)} cases, within 5%: {len(errs) - len(bad)}/{len(errs)}, median "
                f"|error| {100 * statistics.median(errs):.1f}%, mean {100 * sum(errs) / len(errs):.1f}%, worst "
                f"{100 * worst['error']:+.1f}% ({worst['id']})" + (f"; outside 5%: {', '.join(bad)}" if bad else "")]
    return "\n".join(out)


def run_all(frozen: Path, results: Path, marker: str) -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in json.loads(frozen.read_text()):
            try:
                row = measure_case(case, spec_text(case), Path(tmp))
            except Exception as exc:  # a case that cannot run is reported, never dropped
                print(f"{case['id']:28s} FAILED: {type(exc).__name__}: {exc}", flush=True)
                rows.append({**case, "failed": f"{type(exc).__name__}: {exc}"})
                continue
            rows.append(row)
            gc.collect()
            print(f"{row['id']:28s} {row['model_class']:22s} est {row['estimate_bytes'] / 2**30:8.3f} GiB  meas "
                  f"{row['measured_bytes'] / 2**30:8.3f} GiB  {100 * row['error']:+6.1f}%  ({row['seconds']} s)",
                  flush=True)
    results.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    ok = [r for r in rows if "failed" not in r]
    failed = [f"{r['id']}: {r['failed']}" for r in rows if "failed" in r]
    md = HERE / "memory_accuracy.md"
    text = md.read_text(encoding="utf-8")
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    body = (table(ok) if ok else "no case ran") + ("\n\nCases that could not run: " + "; ".join(failed) if failed else "")
    if begin in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        md.write_text(f"{head}{begin}\n{body}\n{end}{tail}", encoding="utf-8")
    print(body)
    return 0


def smoke(frozen: Path) -> int:
    """Each frozen case's set-up at the reduced shape, estimate and --measure; prints no figure, only whether it ran."""
    from llmspec.estimate import inference_memory, training_memory
    from llmspec.estimate.measure import measure_inference, measure_training
    from llmspec.spec.loader import load_spec

    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in json.loads(frozen.read_text()):
            path = Path(tmp) / f"{case['id']}.toml"
            path.write_text(smoke_text(case), encoding="utf-8")
            try:
                spec = load_spec(path, case["overrides"])
                training = case["mode"] == "training"
                (training_memory if training else inference_memory)(spec)
                meas = (measure_training if training else measure_inference)(spec)
                print(f"{case['id']:28s} ran ({meas.model_class})", flush=True)
            except Exception as exc:
                failed += 1
                print(f"{case['id']:28s} FAILED: {type(exc).__name__}: {exc}", flush=True)
            gc.collect()
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    for flag in ("--freeze", "--check", "--smoke", "--run", "--rerun"):
        action.add_argument(flag, action="store_true")
    parser.add_argument("--round", type=int, choices=ROUNDS, required=True)
    args = parser.parse_args(argv)
    f = files(args.round)
    frozen, results = f.cases, f.results
    if args.freeze or args.check:
        text = frozen_text(args.round)
        if frozen.exists() and frozen.read_text(encoding="utf-8") != text:
            print(f"{frozen}: the round's rule no longer writes this frozen list; a frozen list is never rewritten "
                  "(freeze a new round instead)", file=sys.stderr)
            return 1
        if args.freeze and not frozen.exists():
            frozen.write_text(text, encoding="utf-8")
            print(f"wrote {frozen} ({len(json.loads(text))} cases)")
        else:
            print(f"{frozen}: unchanged")
        return 0
    if not frozen.exists():
        print(f"{frozen}: not frozen yet; run --freeze --round {args.round} and commit it first", file=sys.stderr)
        return 1
    if args.smoke:
        return smoke(frozen)
    if args.run:
        if results.exists():
            print(f"{results}: round {args.round} has run once already; a blind round runs once (--rerun writes a "
                  "separate table)", file=sys.stderr)
            return 1
        return run_all(frozen, results, f.marker)
    if not results.exists():
        print(f"{results}: round {args.round} has not run yet; --run it once first", file=sys.stderr)
        return 1
    return run_all(frozen, f.rerun, f"{f.marker}-rerun")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
