"""The published-runs evidence set (benchmarks/published/runs.toml) is well-formed and scores every run."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = tomllib.loads((ROOT / "benchmarks/published/runs.toml").read_text(encoding="utf-8"))["run"]
CITE = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{7,40}:[\w./-]+")
NEEDS = {"compile", "chunked_ce", "fused_linear_ce", "optimizer_fused", "optimizer_in_backward", "paged_optimizer",
         "activation_offload", "adapter_fp32", "lora_on_head", "dora", "qlora_adapted_only", "quant_format",
         "quantised_head", "bnb_saved_inputs", "prompt_length", "attention_kernel", "fsdp_no_sync"}


def _bench():
    spec = importlib.util.spec_from_file_location("published_memory", ROOT / "benchmarks/published_memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("run", RUNS, ids=[r["id"] for r in RUNS])
def test_run_records_what_the_issue_asks(run):
    assert CITE.match(run["cite"]), run["cite"]
    assert run["unit"] in ("GB", "GiB")
    assert run["counter"] in ("allocated", "reserved", "active", "nvidia-smi", "unstated")
    assert run["source"] in ("litgpt", "torchtune", "peft", "hf-docs", "torchao", "unsloth")
    assert set(run["needs"]) <= NEEDS
    assert run.get("exclude") or isinstance(run["measured"], float)
    if run.get("exclude"):
        assert re.match(r"^E[1-6]: ", run["exclude"])


def test_evidence_set_size_and_sources():
    scored = [r for r in RUNS if not r.get("exclude")]
    assert len(scored) >= 40
    assert len({r["source"] for r in scored}) >= 4
    assert len({r["id"] for r in RUNS}) == len(RUNS)


def test_every_scored_run_gets_an_estimate():
    rows = _bench().run_all()
    scored = [r for r in rows if "error" in r]
    assert len(scored) == sum(1 for r in RUNS if not r.get("exclude"))
    assert all(r["estimate"] > 0 and r["measured_bytes"] > 0 for r in scored)
