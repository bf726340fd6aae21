"""One family's frozen accuracy cases (memory_accuracy_cases.json, reduced + held-out) on whichever transformers
this interpreter has: how a registry fact that depends on the transformers version holds on each.

    python benchmarks/family_versions.py falcon                       # the shared venv (transformers 5.24.0)
    /path/to/tf525-venv/bin/python benchmarks/family_versions.py falcon   # a venv with transformers 5.25.0

The estimate reads the installed transformers version (llmspec.estimate.hfversion), so each interpreter gets the
estimate for its own version; `--as VERSION` makes the estimate assume another one (to show the mismatch).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family")
    parser.add_argument("--as", dest="assume", help="estimate as if this transformers version were installed")
    args = parser.parse_args(argv)
    from family_cases import FROZEN, run

    from llmspec.estimate import hfversion

    if args.assume:
        hfversion.transformers_version = lambda: (args.assume, True)  # type: ignore[assignment,method-assign]
    cases = [c for c in json.loads(FROZEN.read_text()) if c["family"] == args.family]
    measured_on = md.version("transformers")
    with tempfile.TemporaryDirectory() as tmp:
        for c in cases:
            r = run(c, Path(tmp))
            print(f"| {r['id']} | {measured_on} | {args.assume or measured_on} | {r['estimate_bytes'] / 2**20:.1f} | "
                  f"{r['measured_bytes'] / 2**20:.1f} | {100 * r['error']:+.1f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
