"""Acceptance run: count which invariants the fuzz harness breaks, without stopping at the first failure.

    PYTHONPATH=<llmspec checkout> python tests/fuzz/collect.py [EXAMPLES_PER_COMMAND] [FAMILY ...]

Runs the same families as test_fuzz_commands.py (the corpus seeds first, then derandomised generated examples)
against whatever `llmspec` is on PYTHONPATH and prints each distinct violation with its count and one example's
arguments. The address space is capped so that old code reading /dev/zero fails fast instead of exhausting the
machine's memory."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import fuzz, fuzz_free_text, memory_cap

FAMILIES = ["check", "lint", "estimate", "report", "diff", "init", "schema", "eval", "free-text", "eval-run"]


def main(n: int, families: list[str]) -> None:
    found: dict[str, list] = collections.defaultdict(list)

    def record(problems, ex, res=None):
        for v in problems:
            found[v].append(getattr(ex, "args", ex))

    for family in families:
        start = time.monotonic()
        if family == "free-text":
            fuzz_free_text(n, record)
        elif family == "eval-run":
            from evalrun import fuzz_eval

            fuzz_eval(max(1, n // 5), record)  # real eval runs: a fifth of the examples
        else:
            fuzz(family, n, record)
        print(f"{family}: done in {time.monotonic() - start:.0f} s; so far: {sorted(found)}", file=sys.stderr,
              flush=True)
    for v, hits in sorted(found.items()):
        print(f"{len(hits):5d}  {v}  e.g. {hits[0]!r}"[:400])


if __name__ == "__main__":
    with memory_cap(3 * 2**30):
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, sys.argv[2:] or FAMILIES)
