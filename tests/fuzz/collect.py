"""Acceptance run: count which invariants the fuzz harness breaks, without stopping at the first failure.

    PYTHONPATH=<llmspec checkout> python tests/fuzz/collect.py [EXAMPLES_PER_COMMAND]

Runs the same strategies as test_fuzz_commands.py (derandomised) against whatever `llmspec` is on PYTHONPATH
and prints each distinct violation with its count and one example's arguments. The address space is capped so
that old code reading /dev/zero fails fast instead of exhausting the machine's memory."""

from __future__ import annotations

import collections
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import SPECS, TEXT, Example, examples, memory_cap, metamorphic_problems, run, violations, workspace
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

COMMANDS = ["check", "lint", "estimate", "report", "diff", "init", "schema", "eval"]


def main(n: int) -> None:
    found: dict[str, list] = collections.defaultdict(list)
    root = Path(tempfile.mkdtemp(prefix="llmspec-collect-"))
    config = settings(max_examples=n, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
    for command in COMMANDS:
        @config
        @given(examples(command))
        def prop(ex):
            cwd = workspace(root / "w", ex)
            res = run(ex.args, cwd)
            for v in violations(ex, res, cwd):
                found[v].append(ex.args)

        prop()
        print(f"{command}: done; so far: {sorted(found)}", file=sys.stderr, flush=True)
    valid = sorted(name for name in SPECS if name == "valid.toml" or name.startswith("example-"))

    @config
    @given(st.sampled_from(valid), TEXT, st.integers(0, 40))
    def meta(name, text, line):
        spec = SPECS[name]
        cwd = workspace(root / "w", Example("lint", [], spec))
        for v in metamorphic_problems(cwd, spec, text, min(line, len(spec.split("\n")) - 1)):
            found[v].append([name, repr(text), line])

    meta()
    for v, hits in sorted(found.items()):
        print(f"{len(hits):5d}  {v}  e.g. {hits[0]!r}"[:400])


if __name__ == "__main__":
    with memory_cap(3 * 2**30):
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
