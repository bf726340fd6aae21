"""Paged engines judged as they run (issue 12): the verdict is whether the engine starts, and the estimate says how
many sequences of the given lengths run at once; dynamic caches hold prompt + generated tokens; fp8 KV is named.

Through the real CLI (CliRunner) on the real example specs; the counts are recomputed here from the JSON's own
pool and the KV bytes per token of the architecture, not copied from the code under test."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspec.cli import cli
from llmspec.estimate import inference_memory
from llmspec.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[2]
SERVING = str(ROOT / "examples" / "llama3-70b-int8-serving-2xh100.toml")
QLORA = str(ROOT / "examples" / "llama3-8b-qlora-rtx4090.toml")
# Llama-3-70B: K and V x 80 layers x 8 KV heads x head_dim 128 x bf16, KV heads split over tensor parallel 2
KV_70B_PER_GPU_TOKEN = 2 * 80 * 8 * 128 * 2 // 2
# Llama-3-8B: 32 layers, 8 KV heads, head_dim 128, bf16 (one GPU)
KV_8B_PER_TOKEN = 2 * 32 * 8 * 128 * 2


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def estimate_json(path: str, *sets: str) -> dict:
    result = run("estimate", path, "--format", "json", *[a for s in sets for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["memory"]["inference"]


def lint_codes(path: str, *sets: str) -> tuple[int, list[str], str]:
    result = run("lint", path, "--format", "json", *[a for s in sets for a in ("--set", s)])
    findings = json.loads(result.output)
    return result.exit_code, [f["code"] for f in findings], " ".join(f"{f['message']} {f['fix']}" for f in findings)


def test_vllm_with_more_requests_than_its_pool_holds_fits_and_queues_the_rest():
    # old code: "does not fit" (125.8 vs 71.7 GiB: the whole batch of 64 x 8192 tokens counted as resident) and
    # MEM003, although vLLM starts with a pool of about 25 sequences and queues the others
    inf = estimate_json(SERVING, "inference.batch_size=64")
    con = inf["concurrency"]
    assert inf["fits"] is True
    per_seq = 8192 * KV_70B_PER_GPU_TOKEN  # 8192 is a whole number of 16-token blocks
    assert con["max_concurrent"] == con["pool_bytes"] // per_seq and 1 <= con["max_concurrent"] < 64
    assert con["requested"] == 64 and con["queued"] == 64 - con["max_concurrent"]
    assert con["tokens_per_sequence"] == con["max_model_len"] == 8192
    assert inf["breakdown"]["kv_cache"] == con["max_concurrent"] * per_seq  # only what runs at once is resident
    code, codes, message = lint_codes(SERVING, "inference.batch_size=64")
    assert "MEM003" not in codes and "MEM006" in codes and code == 0
    assert f"runs {con['max_concurrent']} of the 64 requested sequences of 8,192 tokens" in message
    text = run("estimate", SERVING, "--set", "inference.batch_size=64").output
    assert "total vs 71.7 GiB: fits" in text
    assert f"{con['max_concurrent']} ({con['queued']} queue)" in text
    report = run("report", SERVING, "--set", "inference.batch_size=64").output
    assert f"Concurrent sequences of 8,192 tokens: **{con['max_concurrent']}** of the 64 asked for" in report


def test_vllm_that_cannot_hold_one_max_model_len_sequence_does_not_start():
    # vllm==0.10.2 check_enough_kv_cache_memory raises ValueError; old code printed "3 concurrent sequences of 8192
    # tokens fit" next to "does not fit", and the JSON had no count
    inf = estimate_json(SERVING, "inference.gpu_memory_utilization=0.5")
    con = inf["concurrency"]
    assert inf["fits"] is False and con["max_concurrent"] == 0
    assert con["pool_bytes"] < 8192 * KV_70B_PER_GPU_TOKEN
    notes = " ".join(inf["assumptions"])
    assert ": 0 concurrent sequences of 8192 tokens fit" in notes and "vllm cannot start" in notes
    code, codes, message = lint_codes(SERVING, "inference.gpu_memory_utilization=0.5")
    assert code == 1 and "MEM003" in codes and "vllm cannot start" in message and "MEM006" not in codes
    # the cheapest fix is the share itself (a paged engine is judged on starting, not on headroom under its share)
    assert "1) gpu_memory_utilization 0.9" in message and "--set inference.gpu_memory_utilization=0.9" in message


def test_paged_verdict_and_count_never_contradict():
    # the verdict is "the pool holds one max_model_len sequence"; the old code compared batch_size sequences with
    # the share, so a count of 1+ could sit beside "does not fit"
    seen = set()
    for util in [x / 100 for x in range(40, 96, 3)]:
        for batch in (1, 16, 64):
            est = inference_memory(load_spec(Path(SERVING), (f"inference.gpu_memory_utilization={util}",
                                                             f"inference.batch_size={batch}")))
            con = est.concurrency
            assert est.fits is (con.max_concurrent >= 1), (util, batch)
            assert con.max_concurrent == min(con.pool_bytes // (8192 * KV_70B_PER_GPU_TOKEN), 256)
            seen.add((est.fits, con.queued > 0))
    assert seen == {(False, True), (True, True), (True, False)}


def test_static_engine_keeps_its_preallocated_batch():
    # llama.cpp preallocates n_ctx for every slot: the whole batch is resident, no concurrency count
    inf = estimate_json(SERVING, "inference.backend=llama.cpp", "inference.batch_size=64")
    assert inf["concurrency"] is None and inf["fits"] is False
    assert inf["breakdown"]["kv_cache"] == 64 * 8192 * KV_70B_PER_GPU_TOKEN
    assert "MEM003" in lint_codes(SERVING, "inference.backend=llama.cpp", "inference.batch_size=64")[1]


def test_dynamic_cache_holds_prompt_plus_generated_tokens_not_seq_len():
    # prompt 4096 + max_new_tokens 1024 with inference.seq_len 8192: HF generate stops at 5120 tokens; the old code
    # sized the cache for 8192 (60% high)
    inf = estimate_json(QLORA)
    assert inf["breakdown"]["kv_cache"] == 5120 * KV_8B_PER_TOKEN
    notes = " ".join(inf["assumptions"])
    assert "KV cache of 5120 tokens for each sequence (1024 generated)" in notes
    assert "inference.seq_len 8192 bounds the cache" in notes
    # vLLM allocates blocks as tokens arrive: the count is of 5120-token sequences, the start-up check of 8192
    con = estimate_json(QLORA, "inference.backend=vllm")["concurrency"]
    assert con["tokens_per_sequence"] == 5120 and con["max_model_len"] == 8192
    # a static cache is preallocated for seq_len whatever is generated
    for static in ("inference.backend=llama.cpp", "inference.kv_allocation=static"):  # llama.cpp n_ctx, HF StaticCache
        assert estimate_json(QLORA, static)["breakdown"]["kv_cache"] == 8192 * KV_8B_PER_TOKEN
    # seq_len shorter than prompt + new still bounds the cache
    short = estimate_json(QLORA, "inference.seq_len=4608")
    assert short["breakdown"]["kv_cache"] == 4608 * KV_8B_PER_TOKEN


@pytest.mark.parametrize("precision,elem", [("fp8", 1), ("int8", 1), ("fp16", 2)])
def test_kv_cache_precision_is_named_in_the_notes(precision, elem):
    inf = estimate_json(QLORA, f"inference.kv_cache_precision={precision}")
    assert inf["breakdown"]["kv_cache"] == 5120 * KV_8B_PER_TOKEN * elem // 2
    note = next(a for a in inf["assumptions"] if a.startswith("KV cache in"))
    assert f"KV cache in {precision} (inference.kv_cache_precision): {elem} B per element" in note
    # vllm==0.10.2 keeps per-tensor scales: 4 fp32 scalars per attention layer, 32 layers -> 512 B
    assert ("512 B" in note) is (precision != "fp16")
    assert math.isclose(512 / inf["breakdown"]["kv_cache"], 0, abs_tol=1e-5)
