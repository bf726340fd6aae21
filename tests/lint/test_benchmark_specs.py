"""The bulk benchmark's specs (benchmarks/lint_speed.py) are valid and vary the memory-relevant keys, so that
its throughput is not flattered by memoisation or by a search that never runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from llmspec.lint.engine import Options, lint_paths
from llmspec.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("lint_speed", ROOT / "benchmarks" / "lint_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_specs_load_and_vary_memory_keys(tmp_path):
    bench = _bench()
    count = 7 * 20  # every example in 20 variants
    assert bench.make_specs(tmp_path, count) == count
    specs = [load_spec(p) for p in sorted(tmp_path.glob("spec_*.toml"))]
    assert len(specs) == count
    training = [(s.training.micro_batch_size, s.training.seq_len) for s in specs if s.training is not None]
    assert {mb for mb, _ in training} == set(bench.MICRO_BATCH)
    assert {sl for _, sl in training} == set(bench.SEQ_LEN)
    ranks = {s.training.lora.rank for s in specs if s.training is not None and s.training.lora is not None}
    assert ranks == set(bench.LORA_RANK)
    batches = {s.inference.batch_size for s in specs if s.inference is not None}
    assert batches == set(bench.INFER_BATCH)
    result = lint_paths([tmp_path], Options(jobs=1))
    assert len(result.files) == count
    assert not [f for f in result.findings if f.code.startswith(("SPC", "LNT"))]
    unfit = {f.file for f in result.findings if f.code in ("MEM001", "MEM003")}
    assert 0.1 * count < len(unfit) < 0.9 * count  # the "what would fit" search runs for a good share
