"""The analytic memory estimate beside published GPU measurements (LitGPT's config-hub table).

    python benchmarks/published_memory.py            # rewrites the published table in memory_accuracy.md
    python benchmarks/published_memory.py --no-write

Pure Python (no torch). Each published row has a spec in benchmarks/published/ that reproduces the run's
set-up exactly as the LitGPT config file states it (precision bf16-true, micro-batch, gradient accumulation =
global_batch_size / micro_batch_size, max_seq_length 512, LoRA r=32 on query and value with dropout 0.05,
quantize bnb.nf4 = NF4 without double quantisation). Published numbers: Lightning-AI/litgpt,
config_hub/finetune/README.md, "Peak memory", torch.cuda.max_memory_allocated() in decimal GB, 1 x A10G.

The "LitGPT + bitsandbytes of the time" column adds what differs in the software those runs used and is not a
property of the spec (so it is not in llmspec's model, which follows current bitsandbytes + peft):

* bitsandbytes before the ``ctx.tensors = (None, B)`` change kept every 4-bit linear's input for backward:
  ``MatMul4Bit.forward`` did ``ctx.tensors = (A, B)`` (TimDettmers/bitsandbytes, bitsandbytes/autograd/
  _functions.py at 29e3420c; bitsandbytes-foundation/bitsandbytes at 60a0d8a5 keeps ``(None, B)``). A frozen
  16-bit ``nn.Linear`` saves no input, so each quantised linear's input is extra: per token and block the
  fused-qkv input (h), the attention projection input (n_heads x head_dim), the shared fc_1/fc_2 input (h)
  and the MLP projection input (ffn), 2 bytes each (bf16).
* Lightning's BitsandbytesPrecision replaces every ``torch.nn.Linear`` (lightning/fabric/plugins/precision/
  bitsandbytes.py, ``_ClassReplacementContextManager({"torch.nn.Linear": ...})``), so LitGPT's lm_head is
  NF4 too (peft + transformers keep it 16-bit), and it quantises from ``weight.to(torch.half)``: its
  dequantised weight is fp16, then cast to bf16 (``F.dequantize_4bit(B, state).to(A.dtype)``), two transient
  copies of the largest 4-bit weight (the lm_head, V x h) instead of one of the largest block linear.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

# (spec file, LitGPT config, published peak in decimal GB)
ROWS = [
    ("llama-2-7b-lora.toml", "llama-2-7b/lora.yaml", 19.77),
    ("llama-3-8b-lora.toml", "llama-3-8b/lora.yaml", 19.73),
    ("mistral-7b-lora.toml", "mistral-7b/lora.yaml", 20.66),
    ("llama-2-7b-qlora.toml", "llama-2-7b/qlora.yaml", 13.68),
    ("mistral-7b-qlora.toml", "mistral-7b/qlora.yaml", 14.29),
    ("tiny-llama-full.toml", "tiny-llama/full.yaml", 14.10),
]
# The earlier comparison (before the set-ups were reconstructed: QLoRA with double quantisation, no gradient
# accumulation, no dequantisation buffer). Kept to show what each correction changed.
EARLIER = {"llama-2-7b-lora.toml": 19.63, "llama-3-8b-lora.toml": 19.89, "mistral-7b-lora.toml": 20.87,
           "llama-2-7b-qlora.toml": 10.02, "mistral-7b-qlora.toml": 10.51, "tiny-llama-full.toml": 11.36}


def litgpt_bnb_extra(spec) -> float:
    """Bytes the LitGPT QLoRA runs held beyond llmspec's model (see the module docstring)."""
    from llmspec.estimate.shapes import layout

    a, tr = spec.arch, spec.training
    tokens = tr.micro_batch_size * tr.seq_len
    saved_inputs = 2 * (2 * a.d_model + a.n_heads * a.head_size + a.ffn_dim) * a.n_layers * tokens
    head = a.vocab_size * a.d_model
    head_nf4 = -head * (2 - (4 + 32 / 64) / 8)  # lm_head NF4 (bnb.nf4: 4.5 bits) instead of bf16
    lay = layout(a)
    ours = max(m.rows * m.cols for m in lay.block_linears) * 2
    dequant = 2 * 2 * max(head, ours // 2) - ours  # fp16 + bf16 copies of the lm_head, minus our one buffer
    return saved_inputs + head_nf4 + dequant


def run() -> list[dict]:
    from llmspec.estimate import training_memory
    from llmspec.spec.loader import load_spec

    rows = []
    for fname, config, published in ROWS:
        spec = load_spec(HERE / "published" / fname)
        est = training_memory(spec)
        gb = est.per_gpu_bytes / 1e9
        row = {"spec": fname, "config": config, "model": spec.model.name, "method": spec.training.method,
               "mb": spec.training.micro_batch_size, "ga": spec.training.gradient_accumulation,
               "published": published, "estimate": gb, "phase": est.peak_phase, "earlier": EARLIER.get(fname)}
        if spec.training.method == "qlora":
            row["litgpt"] = gb + litgpt_bnb_extra(spec) / 1e9
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    def pct(x: float, ref: float) -> str:
        return f"{100 * (x / ref - 1):+.1f}%"

    out = ["| LitGPT config | spec | published | earlier comparison | llmspec estimate | difference | "
           "+ LitGPT/bnb-of-the-time terms | difference |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        earlier = f"{r['earlier']:.2f} GB ({pct(r['earlier'], r['published'])})"
        lit = (f"{r['litgpt']:.2f} GB | {pct(r['litgpt'], r['published'])}" if "litgpt" in r else "n/a | n/a")
        out.append(f"| `{r['config']}` | `published/{r['spec']}` | {r['published']:.2f} GB | {earlier} | "
                   f"{r['estimate']:.2f} GB | {pct(r['estimate'], r['published'])} | {lit} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    text = table(run())
    print(text)
    if not args.no_write:
        md = HERE / "memory_accuracy.md"
        doc = md.read_text(encoding="utf-8")
        begin, end = "<!-- published:begin -->", "<!-- published:end -->"
        head, _, rest = doc.partition(begin)
        _, _, tail = rest.partition(end)
        md.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
