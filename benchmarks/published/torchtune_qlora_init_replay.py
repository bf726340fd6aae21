"""Replay torchtune's QLoRA init (model build + checkpoint load) of Llama-2-7B under torchao 0.1 through the CUDA
caching allocator's rules: the reserved pool behind the QLoRA tutorial's figure (runs.toml,
torchtune-tutorial-llama2-7b-qlora: 9.13 GB reserved after init, 9.29 GB after training).

    git -C <pytorch/ao clone> show v0.1:torchao/dtypes/nf4tensor.py > /tmp/nf4tensor_v01.py
    python benchmarks/published/torchtune_qlora_init_replay.py /tmp/nf4tensor_v01.py

Evidence, not part of the estimate or of CI (it needs torchao 0.1's nf4tensor.py, which torchtune@0914d5cfb pinned).
What it replays, from torchtune@0914d5cfb: torchtune/models/llama2/_component_builders.py:lora_llama2 builds one layer
(each LoRALinear makes a bf16 nn.Linear on the GPU and calls to_nf4 on its weight), the embedding and the head, then
TransformerDecoder deep-copies the layer 32 times (torchtune/utils/_register_nf4_dispatch_ops.py:clone ->
to_nf4(get_original_weight())); the template is dropped; load_state_dict then re-quantises every 4-bit weight from a
bf16 copy moved to the GPU (_register_nf4_dispatch_ops.py:inplace_copy). The per-op allocations of to_nf4 and
get_original_weight are recorded from the real torchao 0.1 code on a small CPU weight and scaled by element count.

Allocator rules (c10/cuda/CUDACachingAllocator.cpp, default settings): requests rounded up to 512 B; requests of at
most 1 MiB come from 2 MiB small segments; larger ones take the best-fitting cached large block, split when more than
1 MiB is left; a new large segment is 20 MiB for requests under 10 MiB, else the request rounded up to 2 MiB; a freed
block merges with free neighbours in its segment; nothing goes back to the driver (the recipe never calls
empty_cache). Simplified: one stream, no expandable segments, no garbage-collection threshold.
"""

from __future__ import annotations

import importlib.util
import sys
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

MiB = 2**20
H, F, V, LAYERS, RANK = 4096, 11008, 32000, 32, 8  # Llama-2-7B; LoRA rank 8 on every block linear (7B_qlora config)
LINEARS = [(H, H)] * 4 + [(F, H), (H, F), (F, H)]  # q, k, v, output_proj; w1, w2, w3 (out, in)


class Trace(TorchDispatchMode):
    """Allocation ('a', tag, bytes) and free ('f', tag) events of every storage an op creates."""

    def __init__(self, skip):
        super().__init__()
        self.events: list[tuple[str, int, int]] = []
        self.live: dict[int, int] = {}
        self.refs: dict[int, weakref.ref] = {}
        self.skip = skip

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and not isinstance(t, self.skip):
                st = t.untyped_storage()
                if id(st) not in self.live:
                    self._add(st)
        return out

    def _add(self, st) -> None:
        key, tag = id(st), len(self.events) + 1
        self.live[key] = tag
        self.events.append(("a", tag, st.nbytes()))

        def gone(_ref, key=key, tag=tag):
            if self.live.get(key) == tag:
                del self.live[key]
                self.events.append(("f", tag, 0))

        self.refs[tag] = weakref.ref(st, gone)


def op_trace(fn, weight, skip):
    """(events with sizes per element of ``weight``, tags of the storages the result keeps)."""
    trace = Trace(skip)
    with trace:
        out = fn(weight)
    kept = {trace.live[id(getattr(out, n).untyped_storage())] for n in out.__tensor_flatten__()[0]
            if id(getattr(out, n).untyped_storage()) in trace.live} if isinstance(out, skip) else set()
    n = weight.numel()
    return [(k, tag, nbytes / n) for k, tag, nbytes in trace.events], kept


class CachingAllocator:
    def __init__(self):
        self.segments: list[dict] = []
        self.reserved = self.allocated = self.peak_allocated = 0
        self.blocks: dict[int, tuple[int, int]] = {}
        self.next_key = 0

    def malloc(self, nbytes: float) -> int:
        size = max(512, -(-int(nbytes) // 512) * 512)
        small = size <= MiB
        best = None
        for si, seg in enumerate(self.segments):
            if seg["small"] == small:
                for block in seg["blocks"]:
                    if block[2] and block[1] >= size and (best is None or block[1] < best[1][1]):
                        best = (si, block)
        if best is None:
            total = 2 * MiB if small else 20 * MiB if size < 10 * MiB else -(-size // (2 * MiB)) * 2 * MiB
            self.segments.append({"small": small, "blocks": [[0, total, True]]})
            self.reserved += total
            best = (len(self.segments) - 1, self.segments[-1]["blocks"][0])
        si, block = best
        blocks = self.segments[si]["blocks"]
        if block[1] - size >= (512 if small else MiB + 1):
            blocks.insert(blocks.index(block) + 1, [block[0] + size, block[1] - size, True])
            block[1] = size
        block[2] = False
        self.next_key += 1
        self.blocks[self.next_key] = (si, block[0])
        self.allocated += block[1]
        self.peak_allocated = max(self.peak_allocated, self.allocated)
        return self.next_key

    def free(self, key: int) -> None:
        si, offset = self.blocks.pop(key)
        blocks = self.segments[si]["blocks"]
        i = next(i for i, b in enumerate(blocks) if b[0] == offset)
        blocks[i][2] = True
        self.allocated -= blocks[i][1]
        if i + 1 < len(blocks) and blocks[i + 1][2]:
            blocks[i][1] += blocks.pop(i + 1)[1]
        if i > 0 and blocks[i - 1][2]:
            blocks[i - 1][1] += blocks.pop(i)[1]


def main(path: str) -> int:
    spec = importlib.util.spec_from_file_location("nf4tensor_v01", path)
    nf4 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nf4)
    small = torch.randn(1024, 2752, dtype=torch.bfloat16)
    quant, quant_kept = op_trace(nf4.to_nf4, small, nf4.NF4Tensor)
    packed = nf4.to_nf4(small)
    dequant, _ = op_trace(lambda _w: packed.get_original_weight(), small, nf4.NF4Tensor)
    gpu = CachingAllocator()

    def replay(events, n, keep=frozenset()):
        keys, kept = {}, []
        for kind, tag, per_element in events:
            if kind == "a":
                keys[tag] = gpu.malloc(per_element * n)
            elif tag not in keep:
                gpu.free(keys.pop(tag))
        kept = [keys.pop(tag) for tag in keep]
        for key in keys.values():
            gpu.free(key)
        return kept

    def layer(from_template: bool) -> list[list[int]]:
        out = []
        for rows, cols in LINEARS:
            n = rows * cols
            if from_template:
                replay(dequant, n)  # get_original_weight's intermediates
            source = gpu.malloc(2 * n)  # the bf16 weight (nn.Linear, or the dequantised copy)
            weight = replay(quant, n, quant_kept)
            gpu.free(source)
            out.append(weight + [gpu.malloc(2 * RANK * cols), gpu.malloc(2 * rows * RANK)])
        out.append([gpu.malloc(2 * H), gpu.malloc(2 * H), gpu.malloc(4 * 4096 * 64)])  # norms, RoPE cache
        return out

    template = layer(False)
    fixed = [gpu.malloc(2 * V * H), gpu.malloc(2 * V * H), gpu.malloc(2 * H)]  # embedding, head, final norm
    model = [layer(True) for _ in range(LAYERS)]
    for part in template:
        for key in part:
            gpu.free(key)
    print(f"after build: allocated {gpu.allocated / 1e9:.2f} GB, reserved {gpu.reserved / 1e9:.2f} GB")
    for blocks in model:
        for j, (rows, cols) in enumerate(LINEARS):
            staged = gpu.malloc(2 * rows * cols)  # inplace_copy: the checkpoint tensor moved to the GPU
            fresh = replay(quant, rows * cols, quant_kept)
            for key in blocks[j][:len(quant_kept)]:
                gpu.free(key)
            blocks[j][:len(quant_kept)] = fresh
            gpu.free(staged)
    print(f"after load:  allocated {gpu.allocated / 1e9:.2f} GB (peak {gpu.peak_allocated / 1e9:.2f} GB), "
          f"reserved {gpu.reserved / 1e9:.2f} GB; published: 9.13 GB reserved after init, 9.29 GB after training")
    del fixed
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
