"""Why the blind torchao fold came out below its figures (benchmarks/published_memory.md, "Blind fold: torchao"):
replay torchao's generate.py through the CUDA caching allocator's rules. Evidence, not part of the estimate or of
CI; the fold stays reported as blind (scored once at commit 9010082, before this).

    python benchmarks/published/torchao_quantise_replay.py

What the README's figures ran (pytorch/ao@ead8cc869, "fixing peak memory stats for benchmark", which produced the
table a4221df5e still shows; torchao/_models/llama/generate.py): _load_model moves the whole bf16 model to the GPU
(``model.to(device=device, dtype=precision)``), then change_linear_weights_to_int8_woqtensors / _int4_woqtensors
quantise every nn.Linear in place, the output head included; the decode step is compiled with
mode="reduce-overhead" (CUDA graphs) and the warm-up is followed by reset_peak_memory_stats(); the figure is
max_memory_reserved(). Capturing a CUDA graph enters torch.cuda.graph, whose __enter__ calls empty_cache()
(torch==2.13.0:torch/cuda/graphs.py:graph.__enter__, "Free as much memory as we can for the graph"), so only
segments with no live block go back to the driver: the quantised weights allocated inside the freed bf16 weights'
segments keep those segments reserved. That is reserved memory the estimate (allocated tensors) has no term for.

Replayed: the gpt-fast Transformer's parameters in .to() order (embedding; per block wqkv, wo, w1, w3, w2, two norms;
final norm; output head), then each linear in module order: ``transients`` bf16 weight-sized temporaries of the
quantiser, the quantised weight (int8 + a bf16 scale per row; int4 tinygemm pack + bf16 scales and zeros per 64),
the bf16 weight freed; then empty_cache. Not replayed: the quantisers' exact temporaries (torchao is not installed
here), the KV cache, the CUDA-graph pool and the compiled decode's own buffers.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torchtune_qlora_init_replay import CachingAllocator  # the same allocator rules

MODELS = {"llama-2-7b": (4096, 11008, 32000, 32, 32), "llama-3-8b": (4096, 14336, 128256, 32, 8)}


def replay(h: int, f: int, v: int, layers: int, kv_heads: int, mode: str, transients: int) -> tuple[float, float]:
    """(reserved after empty_cache, allocated) in GB for mode bf16 / int8 / int4."""
    alloc = CachingAllocator()
    qkv = (h + 2 * kv_heads * (h // 32)) * h
    linears = [("wqkv", qkv, h), ("wo", h * h, h), ("w1", f * h, f), ("w3", f * h, f), ("w2", h * f, h)]
    live: dict = {"emb": alloc.malloc(v * h * 2)}
    order = []
    for i in range(layers):
        for name, numel, rows in linears:
            live[(i, name)] = alloc.malloc(numel * 2)
            order.append(((i, name), numel, rows))
        live[(i, "norms")] = [alloc.malloc(h * 2), alloc.malloc(h * 2)]
    live["norm"] = alloc.malloc(h * 2)
    live["head"] = alloc.malloc(v * h * 2)
    order.append(("head", v * h, v))
    if mode != "bf16":
        for key, numel, rows in order:
            temps = [alloc.malloc(numel * 2) for _ in range(transients)]
            if mode == "int8":
                quantised = [alloc.malloc(numel), alloc.malloc(rows * 2)]
            else:
                quantised = [alloc.malloc(numel // 2), alloc.malloc(numel // 64 * 4)]
            for t in temps:
                alloc.free(t)
            alloc.free(live.pop(key))
            live[key] = quantised
    kept = [s for s in alloc.segments if not all(b[2] for b in s["blocks"])]
    return sum(b[1] for s in kept for b in s["blocks"]) / 1e9, alloc.allocated / 1e9


def main() -> int:
    print("| model | weights | quantiser temporaries | reserved after empty_cache | allocated |")
    print("|---|---|---|---|---|")
    for name, dims in MODELS.items():
        for mode in ("bf16", "int8", "int4"):
            for transients in ((0,) if mode == "bf16" else (0, 2)):
                reserved, allocated = replay(*dims, mode=mode, transients=transients)
                print(f"| {name} | {mode} | {transients} | {reserved:.2f} GB | {allocated:.2f} GB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
