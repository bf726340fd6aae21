"""False failures (A/A) and power of baseline gates, by documents n and number of gates m.

    python benchmarks/gate_power.py > benchmarks/gate_power.md

Each cell runs m gates, each on its own task of n documents, through the library's own p-values
(llmspec.eval.paired: Tango's test for 0/1 accuracy, the paired t-test for per-item means) and Holm's
step-down (paired.holm) at family-wise alpha = 0.05, regression mode, max_drop = 0 (any proven drop fails).

- A/A: both models answer each document right with the same probability (a per-document difficulty shared by
  both runs, so answers are positively correlated as real runs are); reported: the share of replications in
  which ANY of the m gates failed (family-wise false failure; must be <= alpha).
- Power at a drop of d points: every task's candidate is truly d points worse; reported: the share of gates
  that failed.
- A cell is "unreachable" when the smallest p-value the test can reach at n is above Holm's first level
  alpha/m: llmspec reports those gates UNDECIDABLE (exit 2) instead of judging them.

The last section is the demo spec's m = 4 gates made baseline gates at max_drop = 0.05 points, at the smoke
suite's real n (rows of suites/smoke/kb_mc.jsonl), at the n the power formula asks for and at the old n = 40 (a 10-point drop
detected with 80% power): A/A, a true drop at the margin, and a 10-point drop.

Seeded; REPS replications per cell; Monte-Carlo SE of a 5% rate = sqrt(.05 * .95 / REPS).
"""

from __future__ import annotations

import math
import sys
import zlib
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmspec.eval import paired

ALPHA = 0.05
NS = (8, 20, 40, 100, 1000)
MS = (1, 5, 10, 20)
DROPS = (0.02, 0.05, 0.10)
REPS = 1000
P = 0.7  # baseline accuracy
DEMO_M, DEMO_MARGIN = 4, 0.05  # examples/tiny-finetuned.toml has 4 gates; a 5-point margin


def accuracy_pair(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Correlated 0/1 outcomes: per-document difficulty p_i ~ Beta(mean P, concentration 2); the candidate's
    probability is p_i * (1 - drop / P), so its expected accuracy is exactly `drop` lower."""
    p_i = rng.beta(P * 2.0, (1 - P) * 2.0, n)
    base = rng.random(n) < p_i
    cand = rng.random(n) < p_i * (1 - drop / P)
    return cand.astype(float), base.astype(float)


def mean_pair(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-item scores with a shared document effect (sd 0.25) and model noise (sd 0.15): F1-like values."""
    doc = rng.normal(0.6, 0.25, n)
    return doc - drop + rng.normal(0, 0.15, n), doc + rng.normal(0, 0.15, n)


def p_accuracy(cand: np.ndarray, base: np.ndarray, margin: float = 0.0) -> float:
    b = int(np.sum((cand >= 0.5) & (base < 0.5)))
    c = int(np.sum((cand < 0.5) & (base >= 0.5)))
    return paired.tango_p(b, c, cand.size, margin, "regression")


def p_mean(cand: np.ndarray, base: np.ndarray, margin: float = 0.0) -> float:
    return paired.paired_mean(cand - base, margin, "regression").p_value


def cell(kind: str, n: int, m: int, drop: float, seed: int, margin: float = 0.0) -> float:
    rng = np.random.default_rng(seed)
    make, pval = (accuracy_pair, p_accuracy) if kind == "accuracy" else (mean_pair, p_mean)
    hits = 0
    for _ in range(REPS):
        ps = [pval(*make(rng, n, drop), margin) for _ in range(m)]
        rejected = paired.holm(ps, ALPHA)[0]
        hits += any(rejected) if drop == 0 else sum(rejected)
    return hits / (REPS if drop == 0 else REPS * m)


def floor(kind: str, n: int) -> float:
    return paired.tango_floor(n, 0.0, "regression") if kind == "accuracy" else 0.0


WORST: list[float] = []  # every A/A rate measured


def binom_upper(n: int, p: float, q: float = 0.999) -> int:
    """Smallest k with P(X <= k) >= q for X ~ Binomial(n, p) (exact, summing the pmf)."""
    total = 0.0
    for k in range(n + 1):
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if total >= q:
            return k
    return n


def table(kind: str) -> list[str]:
    head = "| n | m | A/A false failure | power, 2 points | power, 5 points | power, 10 points |"
    lines = [head, "|---:|---:|---:|---:|---:|---:|"]
    for n in NS:
        for m in MS:
            if floor(kind, n) > ALPHA / m:
                need = paired.needed_n(lambda k: floor(kind, k), ALPHA / m)
                lines.append(f"| {n} | {m} | unreachable (floor {floor(kind, n):.3g} > {ALPHA / m:.3g}; "
                             f"needs n >= {need}) | – | – | – |")
                continue
            seed = zlib.crc32(f"{kind}-{n}-{m}".encode())
            rates = [cell(kind, n, m, d, seed + i) for i, d in enumerate((0.0, *DROPS))]
            WORST.append(rates[0])
            lines.append(f"| {n} | {m} | " + " | ".join(f"{100 * r:.1f}%" for r in rates) + " |")
    return lines


def main() -> None:
    se = 100 * math.sqrt(ALPHA * (1 - ALPHA) / REPS)
    out = ["# Gate power: false failures and power by n and m", "",
           "Generated by `python benchmarks/gate_power.py` (see its docstring for the model). alpha = 0.05 "
           f"family-wise, Holm over m gates, max_drop = 0, regression mode; {REPS} replications per cell "
           f"(Monte-Carlo SE of a 5% rate: {se:.1f} points).", "",
           "## Accuracy (0/1 per document): Tango's score test, continuity-corrected", "", *table("accuracy"), "",
           "## Per-item means (F1-like scores): paired t-test", "", *table("mean"), ""]
    root = Path(__file__).resolve().parents[1]
    demo_n = sum(1 for line in (root / "suites" / "smoke" / "kb_mc.jsonl").read_text().splitlines() if line)
    need = next(k for k in range(2, 100_000) if paired.detectable_drop(DEMO_MARGIN, 0.5, k, ALPHA / DEMO_M) <= 0.10)
    level = ALPHA / DEMO_M
    z_level, z_power = NormalDist().inv_cdf(1 - level), NormalDist().inv_cdf(paired.POWER)
    out += ["## The demo suite", "",
            f"The demo spec (examples/tiny-finetuned.toml) has {DEMO_M} gates. Made baseline gates with max_drop = "
            f"{DEMO_MARGIN} points (Holm, alpha = {ALPHA}), the first is tested at alpha/m = {level:.4g}. A gate "
            "detects with 80% power a drop of margin + (z_(1-alpha/m) + z_0.8) * sqrt(2 sigma^2 / n) "
            "(paired.detectable_drop; sigma = 0.5, the largest for values in [0, 1]; the unpaired variance, "
            "conservative when the two runs are not negatively correlated). For a 10-point drop:", "",
            f"    {DEMO_MARGIN} + ({z_level:.3f} + {z_power:.3f}) * sqrt(0.5 / n) <= 0.10  =>  "
            f"n >= 0.5 * (({z_level:.3f} + {z_power:.3f}) / {0.10 - DEMO_MARGIN:.2f})^2 = "
            f"{0.5 * ((z_level + z_power) / (0.10 - DEMO_MARGIN)) ** 2:.1f}, so n >= {need}.", "",
            f"The smoke suite has n = {demo_n} documents per gated task (rows of suites/smoke/kb_mc.jsonl; "
            f"llmspec/eval/kb.py, EVAL_ITEMS), where such a gate detects a drop of "
            f"{paired.detectable_drop(DEMO_MARGIN, 0.5, demo_n, level):.3g}; the suite had n = 40 before, where it "
            f"detected only {paired.detectable_drop(DEMO_MARGIN, 0.5, 40, level):.3g}. The simulated runs below are "
            f"positively correlated with accuracy {P} (sigma^2 = {P * (1 - P):.2f} < 0.25), so the formula is "
            "conservative for them.", "",
            "| test | n | A/A false failure (any gate) | true drop = margin (5 points): failures | "
            "10-point drop: failures |", "|---|---:|---:|---:|---:|"]
    for kind in ("accuracy", "mean"):
        for n in sorted({40, need, demo_n}):
            seed = zlib.crc32(f"demo-{kind}-{n}".encode())
            rates = [cell(kind, n, DEMO_M, d, seed + i, DEMO_MARGIN) for i, d in enumerate((0.0, DEMO_MARGIN, 0.10))]
            WORST.append(rates[0])
            name = "Tango (accuracy)" if kind == "accuracy" else "paired t (per-item means)"
            out.append(f"| {name} | {n} | " + " | ".join(f"{100 * r:.1f}%" for r in rates) + " |")
    out.append("")
    bound = binom_upper(REPS, ALPHA) / REPS
    out += [f"Largest A/A false-failure rate over the reachable cells: {100 * max(WORST):.1f}%; a true rate of "
            f"5% exceeds {100 * bound:.1f}% with probability 0.1% ({REPS} replications), so every size is "
            f"{'within' if max(WORST) <= bound else 'NOT within'} alpha up to Monte-Carlo error.", ""]
    print("\n".join(out))


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
