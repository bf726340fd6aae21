"""How fast is `llmspec lint`? One run measures, on the same machine and in the same conditions:

1. a cold `llmspec lint SPEC` (a new process each time, as pre-commit runs it) against `check-jsonschema
   --schemafile schemas/llmspec.schema.json SPEC` (the tool a pre-commit user would otherwise add), both on
   the same example spec; the runs alternate, and the median of N of each is reported with their ratio;
2. the throughput of linting 1,000 specs in one invocation (a new process, startup included), generated from
   the shipped examples with varied values, and the in-process rate without the startup.

Usage: python benchmarks/lint_speed.py [--runs 15] [--specs 1000] [--write benchmarks/lint_speed.md]
The figures depend on the machine and its load; the Markdown records both.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "llama2-7b-lora-a100.toml"
SCHEMA = ROOT / "schemas" / "llmspec.schema.json"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    path = shutil.which(name)
    if path is None:
        sys.exit(f"benchmark: {name} not found (pip install -e '.[dev]')")
    return path


def _children_cpu() -> float:
    """User + system CPU seconds of every finished child process (and of their children they waited for)."""
    try:
        import resource
    except ImportError:  # not on Unix
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"benchmark: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed


def cold_single(runs: int) -> dict:
    lint = [_tool("llmspec"), "lint", str(SPEC), "--exit-zero"]
    cjs = [_tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(SPEC)]
    for cmd in (lint, cjs):  # warm the OS file cache and .pyc files once
        _time(cmd, ROOT)
    lint_times, cjs_times = [], []
    for _ in range(runs):
        lint_times.append(_time(lint, ROOT))
        cjs_times.append(_time(cjs, ROOT))
    return {"lint": statistics.median(lint_times), "cjs": statistics.median(cjs_times),
            "lint_all": lint_times, "cjs_all": cjs_times}


# Memory-relevant values cycled through the generated specs (independently of the example they come from), so
# that the estimates, the "what would fit" search and any memoisation see many distinct set-ups.
MICRO_BATCH = (1, 2, 4, 8, 16)
SEQ_LEN = (1024, 2048, 4096, 8192)
LORA_RANK = (8, 16, 64)
INFER_BATCH = (1, 4, 16, 64)


def make_specs(folder: Path, count: int) -> int:
    """``count`` specs: the examples (with the files they extend / import) varied in learning rate, epochs and
    temperature, and in the memory-relevant keys (micro-batch size, training sequence length, LoRA rank,
    serving batch size), so that each one is a distinct, realistic spec."""
    shutil.copytree(ROOT / "examples" / "base", folder / "base")
    if (ROOT / "examples" / "configs").is_dir():
        shutil.copytree(ROOT / "examples" / "configs", folder / "configs")
    (folder / "llmspec.toml").write_text('exclude = ["base/**", "configs/**"]\n', encoding="utf-8")
    sources = _sources()
    n = len(sources)
    for i in range(count):
        text = sources[i % n].read_text(encoding="utf-8")
        text = text.replace('name = "', f'name = "v{i}-', 1)
        text = text.replace("temperature = 0.", f"temperature = 0.{i % 9 + 1}", 1)
        text = text.replace("epochs = ", f"epochs = {1 + i % 4}  # was ", 1)
        j = i // n  # the variant of this example
        text = re.sub(r"(?m)^micro_batch_size = \d+", f"micro_batch_size = {MICRO_BATCH[j % 5]}", text, count=1)
        text = re.sub(r"(?m)^seq_len = \d+", f"seq_len = {SEQ_LEN[j // 5 % 4]}", text, count=1)
        text = re.sub(r"(?m)^rank = \d+", f"rank = {LORA_RANK[j % 3]}", text, count=1)
        text = re.sub(r"(?m)^batch_size = \d+", f"batch_size = {INFER_BATCH[j // 3 % 4]}", text, count=1)
        (folder / f"spec_{i:04d}.toml").write_text(text, encoding="utf-8")
    return count


def inproc(folder: str) -> dict:
    """Lint ``folder`` in this process (jobs=1), timed after the imports; with the memo counters of the shape
    helpers (llmspec.estimate.params.MEMOS) and, per spec, whether all its memo look-ups were hits."""
    from llmspec.estimate.params import MEMOS
    from llmspec.estimate.result import _builtin_accelerator
    from llmspec.lint.engine import Linter, Options, lint_paths

    per_spec: list[tuple[int, int]] = []  # (look-ups, misses) of each spec
    lint_file = Linter.lint_file

    def counted(self, path):
        before = [(m.hits, m.misses) for m in MEMOS.values()], len(MEMOS)
        try:
            return lint_file(self, path)
        finally:
            hits = sum(m.hits for m in MEMOS.values()) - sum(h for h, _ in before[0])
            misses = sum(m.misses for m in MEMOS.values()) - sum(m for _, m in before[0])
            per_spec.append((hits + misses, misses))

    Linter.lint_file = counted
    if os.environ.get("LINT_SPEED_NO_MEMO"):  # the same run with every memo look-up computed afresh
        import llmspec.estimate.params as params
        import llmspec.estimate.result as result

        params.Memo.get = lambda self, key, compute: compute()
        result._builtin_accelerator = _builtin_accelerator.__wrapped__
    wall, cpu = time.perf_counter(), time.process_time()
    result = lint_paths([folder], Options(jobs=1))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    unfit = {f.file for f in result.findings if f.code in ("MEM001", "MEM003")}
    return {"files": len(result.files), "seconds": wall, "cpu": cpu, "unfit": len(unfit),
            "memos": {**{name: [m.hits, m.misses] for name, m in sorted(MEMOS.items())},
                      "accelerator": list(_builtin_accelerator.cache_info()[:2])},
            "specs_all_hits": sum(1 for n, miss in per_spec if n and not miss),
            "specs_some_miss": sum(1 for n, miss in per_spec if miss),
            "specs_no_lookup": sum(1 for n, _ in per_spec if not n)}


def bulk(count: int, repeats: int = 3) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "specs"
        folder.mkdir()
        make_specs(folder, count)
        cmd = [_tool("llmspec"), "lint", str(folder), "-f", "concise", "--exit-zero"]
        _time(cmd, folder)
        walls, cpus = [], []
        for _ in range(repeats):
            before = _children_cpu()
            walls.append(_time(cmd, folder))
            cpus.append(_children_cpu() - before)  # the lint process and its workers
        out = subprocess.run([sys.executable, __file__, "--inproc", str(folder)], capture_output=True, text=True,
                             check=True)
        stats = json.loads(out.stdout)
        out = subprocess.run([sys.executable, __file__, "--inproc", str(folder)], capture_output=True, text=True,
                             check=True, env={**os.environ, "LINT_SPEED_NO_MEMO": "1"})
        bare = json.loads(out.stdout)
    wall = statistics.median(walls)
    cpu = statistics.median(cpus)
    files = stats["files"]
    return {"count": files, "wall": wall, "walls": walls, "rate": files / wall, "inproc": files / stats["seconds"],
            "cpu": files / stats["cpu"], "cpu_no_memo": files / bare["cpu"],
            "cli_cpu": cpu, "cli_cpu_rate": files / cpu, "cores": cpu / wall, "jobs": _usable_cpus(),
            "stats": stats}


def _usable_cpus() -> int:
    from llmspec.lint.engine import usable_cpus  # what `llmspec lint` starts as many workers as

    return usable_cpus()


def _sources() -> list[Path]:
    return sorted(p for p in (ROOT / "examples").glob("*.toml"))


def _memos(memos: dict) -> str:
    return ", ".join(f"{name} {hits:,} / {misses:,}" for name, (hits, misses) in memos.items())


def render(single: dict, many: dict, runs: int) -> str:
    ratio = single["lint"] / single["cjs"]
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",) * 3
    return f"""# `llmspec lint` speed

Measured by `python benchmarks/lint_speed.py` on {datetime.date.today().isoformat()}: Python
{platform.python_version()}, {os.cpu_count()} CPU(s), load average {', '.join(f'{x:.2f}' if isinstance(x, float) else x for x in load)}
at the end of the run (the machine is shared; both tools ran interleaved, so the ratio is fair even when the
absolute times are not).

| measurement | result | target |
|---|---|---|
| cold `llmspec lint {SPEC.relative_to(ROOT)}` (median of {runs}) | {single['lint']:.3f} s | |
| cold `check-jsonschema --schemafile {SCHEMA.relative_to(ROOT)}` on the same spec (median of {runs}) | {single['cjs']:.3f} s | |
| ratio lint / check-jsonschema | **{ratio:.2f}** | <= 1.0 |
| {many['count']:,} specs in one `llmspec lint` invocation (startup included, {many['jobs']} worker processes, median of 3) | {many['wall']:.2f} s = **{many['rate']:,.0f} specs/s** | >= 500/s |
| CPU time of those runs (lint process and workers, median): per CPU-second; cores they got on average | {many['cli_cpu']:.2f} s = {many['cli_cpu_rate']:,.0f} specs/s; {many['cores']:.2f} cores | |
| the same in one process, without interpreter start-up and imports: wall clock | {many['inproc']:,.0f} specs/s | |
| the same per CPU-second (what one idle core gives; insensitive to the load of other processes) | {many['cpu']:,.0f} specs/s | |
| the same per CPU-second with every memo look-up computed afresh (see below) | {many['cpu_no_memo']:,.0f} specs/s | |

`llmspec lint` does more than schema validation: it validates the spec with the same models, then runs
every rule, including the memory, compute and "what would fit" estimates. When the bulk run got fewer cores
than it has worker processes, other processes held the rest of the machine, and its wall-clock rate says as much
about their load as about llmspec; the per-CPU-second rates do not depend on it.

The {many['count']:,} specs are the {len(_sources())} examples, each in about {many['count'] // len(_sources())} variants that cycle
micro_batch_size over {MICRO_BATCH}, the training seq_len over {SEQ_LEN}, the LoRA rank over {LORA_RANK}
and the serving batch_size over {INFER_BATCH} (besides name, temperature and epochs); {many['stats']['unfit']:,} of
them do not fit their GPUs (MEM001 / MEM003), so the "what would fit" search runs for them.

Memoisation (in-process run): the parameter count of LoRA runs, the LoRA adapter shapes, the "all-linear"
target list and the weight layout are memoised on every field of the architecture (plus LoRA targets, rank and
family), and the built-in accelerator look-up on its name. Look-ups (hits / misses): {_memos(many['stats']['memos'])}.
{many['stats']['specs_all_hits']:,} of {many['count']:,} specs found every look-up in the memo, {many['stats']['specs_some_miss']:,}
computed at least one, {many['stats']['specs_no_lookup']:,} made none (the CLI's {many['jobs']} worker processes each have their own).

Raw bulk timings (s): {', '.join(f'{t:.2f}' for t in many['walls'])}.

Raw cold timings (s): lint {', '.join(f'{t:.3f}' for t in single['lint_all'])};
check-jsonschema {', '.join(f'{t:.3f}' for t in single['cjs_all'])}.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--specs", type=int, default=1000)
    parser.add_argument("--write", type=Path, default=None, help="write the Markdown report here")
    parser.add_argument("--inproc", default=None, help=argparse.SUPPRESS)  # internal: the in-process run
    args = parser.parse_args()
    if args.inproc:
        print(json.dumps(inproc(args.inproc)))
        return
    single = cold_single(args.runs)
    many = bulk(args.specs)
    text = render(single, many, args.runs)
    print(text)
    if args.write:
        args.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
