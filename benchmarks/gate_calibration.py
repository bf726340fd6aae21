"""Calibration of the baseline-gate tests: the actual false-failure (size) and power of llmspec.eval.paired.

1. Paired proportions (accuracy gates): the rejection probability is computed EXACTLY, by summing the
   trinomial distribution of (b, c) = (candidate-only right, baseline-only right) over every outcome, with the
   library's own p-value (llmspec.eval.paired.tango_p; the uncorrected statistic tango_z(cc=0) for comparison).
   No Monte-Carlo error. Scenarios: A/A (margin 0) with independent or correlated outcomes (shared document
   difficulty, Beta with concentration 2 -> discordance 2/3 of the independent one) at accuracy p = 0.1, 0.5,
   0.9; the boundary (true drop = margin) in both modes; and the supremum over the nuisance parameter (the
   discordance rate), which is the size of the test in the strict sense.
2. Paired bootstrap (perplexity gates): Monte-Carlo, R A/A (or boundary) replications per cell, each with B
   bootstrap resamples. Per-document (loglikelihood, words) with a skewed per-word loss (gamma) and skewed
   lengths; word_perplexity = exp(-sum ll / sum words); percent margins. The resampling is the library's
   (multinomial document counts, the same on both sides), vectorised over replications as count-matrix
   products; the p-value is the library's (llmspec.eval.paired.bootstrap_p). Reported with the Monte-Carlo SE.

Usage: python benchmarks/gate_calibration.py [--reps 20000] [--boot 1000] [--write benchmarks/gate_calibration.md]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from llmspec.eval import paired

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.05
NS = (20, 40, 100, 400, 1000)
PS = (0.1, 0.5, 0.9)
MARGIN = 0.02


# ---------------------------------------------------------------- exact, paired proportions


def _grid(n: int):
    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = b + c <= n
    return b[keep], c[keep]


def _pmf(n: int, b, c, pb: float, pc: float) -> np.ndarray:
    lg = np.array([math.lgamma(k + 1) for k in range(n + 1)])  # log k!
    logp = (
        lg[n] - lg[b] - lg[c] - lg[n - b - c]
        + b * math.log(pb) + c * math.log(pc) + (n - b - c) * math.log1p(-pb - pc)
    )
    return np.exp(logp)


_P_CACHE: dict = {}


def _rejects(n: int, margin: float, mode: str, corrected: bool, alpha: float) -> np.ndarray:
    key = (n, margin, mode, corrected)
    if key not in _P_CACHE:
        b, c = _grid(n)
        if corrected:
            p = [paired.tango_p(int(x), int(y), n, margin, mode) for x, y in zip(b, c)]
        else:
            z = [paired.tango_z(int(x), int(y), n, -margin) for x, y in zip(b, c)]
            cdf = paired._N.cdf
            p = [cdf(v) if mode == "regression" else 1 - cdf(v) for v in z]
        _P_CACHE[key] = np.asarray(p)
    return _P_CACHE[key] <= alpha


def exact_rate(n, pb, pc, margin, mode, corrected, alpha=ALPHA) -> float:
    b, c = _grid(n)
    return float((_pmf(n, b, c, pb, pc) * _rejects(n, margin, mode, corrected, alpha)).sum())


def accuracy_cells(p: float, margin: float, correlated: bool) -> tuple[float, float]:
    """(pb, pc) for candidate accuracy p - margin and baseline accuracy p (independent outcomes), or the
    correlated version (discordance scaled by conc/(conc+1) = 2/3 for a Beta difficulty with concentration 2)."""
    pb = (p - margin) * (1 - p)
    if correlated:
        pb *= 2.0 / 3.0
    return pb, pb + margin


def sup_rate(n, margin, mode, corrected, alpha=ALPHA) -> float:
    grid = np.concatenate([np.geomspace(1e-4, 0.01, 12), np.linspace(0.01, 0.49 - margin / 2, 70)])
    return max(exact_rate(n, pb, pb + margin, margin, mode, corrected, alpha) for pb in grid)


# ---------------------------------------------------------------- Monte-Carlo, paired bootstrap


def _docs(rng, n, r):
    words = rng.integers(5, 60, (n, r)).astype(float)
    per_word = -rng.gamma(4.0, 0.8, (n, r))
    def noise():
        return rng.normal(0.0, 0.3 * np.sqrt(words))
    return words, words * per_word + noise(), words * per_word + noise()


def bootstrap_rates(n, margin, mode, reps, n_boot, seed, chunk=100, planted=None):
    """(percentile rate, expanded rate) of rejections. One count matrix serves ``chunk`` replications (they are
    independent data sets; a small chunk keeps the Monte-Carlo error close to the binomial one). The candidate's per-word loss is higher by
    log(1 + margin) (its population perplexity is exactly margin higher: the boundary), or by log(1 + planted)."""
    rng = np.random.default_rng(seed)
    shift = math.log1p(margin if planted is None else planted)
    rej_pct = rej_exp = 0
    for start in range(0, reps, chunk):
        r = min(chunk, reps - start)
        words, ll_c, ll_b = _docs(rng, n, r)
        ll_c = ll_c - shift * words
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
        sw, sc, sb = counts @ words, counts @ ll_c, counts @ ll_b
        ppl_c, ppl_b = np.exp(-sc / sw), np.exp(-sb / sw)
        g = (ppl_b - ppl_c) / ppl_b  # percent change, positive = better (lower perplexity)
        beyond = (g >= -margin).sum(0) if mode == "regression" else (g <= -margin).sum(0)
        tail = (1 + beyond) / (n_boot + 1)
        rej_pct += int((tail <= ALPHA).sum())
        rej_exp += sum(paired.bootstrap_p(float(t), n) <= ALPHA for t in tail)
    return rej_pct / reps, rej_exp / reps


# ---------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--write", default=str(ROOT / "benchmarks" / "gate_calibration.md"))
    args = ap.parse_args()
    t0 = time.time()
    out = ["# Gate calibration", "", (f"Generated by `python benchmarks/gate_calibration.py --reps {args.reps} --boot "
           f"{args.boot}`; alpha = {ALPHA} (one-sided). See the script's docstring for the models."), ""]

    out += ["## Accuracy gates: Tango's score test, exact rejection probabilities", "",
            "`old` = Tango's asymptotic score test as shipped before (no continuity correction); `new` = with the",
            "1-count continuity correction (llmspec.eval.paired.tango_p). Exact (no Monte-Carlo error).", ""]
    head = "| scenario | p | " + " | ".join(f"n={n} old / new" for n in NS) + " |"
    out += [head, "|" + "---|" * (2 + len(NS))]
    scen = [("A/A, independent", 0.0, "regression", False), ("A/A, correlated", 0.0, "regression", True),
            (f"drop = margin {MARGIN}, regression, independent", MARGIN, "regression", False),
            (f"drop = margin {MARGIN}, regression, correlated", MARGIN, "regression", True),
            (f"drop = margin {MARGIN}, non_inferiority (false pass), independent", MARGIN, "non_inferiority", False)]
    for label, m, mode, corr in scen:
        for p in PS:
            pb, pc = accuracy_cells(p, m, corr)
            cells = [f"{_pct(exact_rate(n, pb, pc, m, mode, False))} / {_pct(exact_rate(n, pb, pc, m, mode, True))}"
                     for n in NS]
            out.append(f"| {label} | {p} | " + " | ".join(cells) + " |")
    out += ["", "Size (supremum over the discordance rate, 82 values from 1e-4 to 0.49):", "",
            "| margin | mode | alpha | " + " | ".join(f"n={n} old / new" for n in NS) + " |",
            "|" + "---|" * (3 + len(NS))]
    for m in (0.0, MARGIN, 0.05):
        for mode in ("regression", "non_inferiority"):
            for a in (0.05, 0.01):
                cells = [f"{_pct(sup_rate(n, m, mode, False, a))} / {_pct(sup_rate(n, m, mode, True, a))}" for n in NS]
                out.append(f"| {m} | {mode} | {a} | " + " | ".join(cells) + " |")
    pb, pc = accuracy_cells(0.7, 0.06, False)
    power = [exact_rate(1000, pb, pc, MARGIN, "regression", c) for c in (False, True)]
    out += ["", (f"Power, accuracy 0.70 -> 0.64 (drop 0.06) against margin {MARGIN}, n = 1000, independent outcomes: "
            f"old {_pct(power[0])}, new {_pct(power[1])}."), ""]
    print("\n".join(out), flush=True)

    se = math.sqrt(ALPHA * (1 - ALPHA) / args.reps)
    boot = ["## Perplexity gates: paired bootstrap, Monte-Carlo", "",
            (f"{args.reps} replications per cell, B = {args.boot}; Monte-Carlo SE at 5% = {_pct(se)}. `percentile` = "
            "the plain percentile test shipped before; `expanded` = Hesterberg's expanded percentile "
            "(llmspec.eval.paired.bootstrap_p). word_perplexity, percent margins."), "",
            "| scenario | " + " | ".join(f"n={n} percentile / expanded" for n in NS) + " |", "|" + "---|" * (1 + len(NS))]
    for label, m, mode in [("A/A, margin 0, regression", 0.0, "regression"),
                           (f"drop = margin {MARGIN:.0%}, regression", MARGIN, "regression"),
                           (f"drop = margin {MARGIN:.0%}, non_inferiority (false pass)", MARGIN, "non_inferiority")]:
        cells = []
        for n in NS:
            a, b = bootstrap_rates(n, m, mode, args.reps, args.boot, seed=1000 * n + int(1e4 * m) + (mode == "regression"))
            cells.append(f"{_pct(a)} / {_pct(b)}")
        boot.append(f"| {label} | " + " | ".join(cells) + " |")
        print(boot[-1], flush=True)
    boot += ["", "High-precision cells (more replications where the table above is closest to alpha):", "",
             "| cell | replications | percentile | expanded | expanded - alpha in MC SE |", "|---|---|---|---|---|"]
    for n, m, mode, k in [(20, 0.0, "regression", 5), (20, MARGIN, "non_inferiority", 5), (1000, MARGIN, "regression", 3)]:
        reps = k * args.reps
        a, b = bootstrap_rates(n, m, mode, reps, args.boot, seed=12345 + n)
        z = (b - ALPHA) / math.sqrt(ALPHA * (1 - ALPHA) / reps)
        boot.append(f"| n={n}, margin {m:.0%}, {mode} | {reps} | {_pct(a)} | {_pct(b)} | {z:+.1f} |")
        print(boot[-1], flush=True)
    pw = bootstrap_rates(100, 0.01, "regression", 2000, args.boot, seed=17, planted=0.03)
    boot += ["", (f"Power, word_perplexity 3% higher against a 1% margin, n = 100 (2,000 replications): "
             f"percentile {_pct(pw[0])}, expanded {_pct(pw[1])}."), "", f"Runtime {time.time() - t0:.0f} s."]
    print("\n".join(boot[-3:]))
    Path(args.write).write_text("\n".join(out + boot) + "\n")


if __name__ == "__main__":
    main()
