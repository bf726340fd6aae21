"""The chunked loss's head backward with a trained head (issue 9, gap b): the head's weight gradients of the chunks.

torchtune applies the output head once per chunk of the sequence (torchtune==0.6.1:torchtune/modules/
transformer.py:TransformerDecoder.chunked_output, ``[self.output(chunk) for chunk in last_hidden_state.chunk(
num_output_chunks, dim=1)]``) and CEWithChunkedOutputLoss upcasts and scores one chunk at a time
(torchtune==0.6.1:torchtune/modules/loss/ce_chunked_output_loss.py; llmspec.estimate._measure_knobs.chunked_ce runs
the same graph). Autograd runs nodes in decreasing sequence number (torch==2.13.0:torch/csrc/autograd/engine.h,
ReadyQueue::CompareNodeTaskTime), and every chunk's head was created before any chunk's cross-entropy, so all the
chunks' cross-entropy backwards run first: when the first head backward starts, every chunk's 16-bit logits gradient
(tokens x vocab in the compute dtype together) is live and the fp32 log-probs are freed. Each chunk's head backward
(one mm node) then makes a vocab x d_model weight gradient, and the engine sums the gradients arriving at the weight's
node (AccumulateGrad, or the autocast copy's _to_copy under AMP) in its InputBuffer (torch==2.13.0:torch/csrc/
autograd/input_buffer.cpp, accumulate: in place, ``old_var.add_(var)``, only when can_accumulate_inplace: a plain
dense tensor the buffer holds alone, with its storage). Each chunk's gradient is mm's weight gradient, a view
(FunctionsManual.cpp:mm_mat2_backward returns ``grad.t().mm(mat1).t()`` for the column-major ``weight.t()``, then
TBackward transposes it back); a view keeps its base, so the first sum is out of place and holds a third head-sized
gradient beside the logits gradients of all but two chunks; the later sums go into that fresh sum in place. That is
what a run without any dispatch mode allocates: torch.profiler's allocator events of real CPU tensors (LlamaForCausalLM,
d_model 256, 2 x 128 tokens, vocab 8,192, 8 chunks, pure bf16 and bf16 autocast) peak within 2 KiB of --measure's
tracker, which accounts the engine's sums as such a run makes them (llmspec.estimate._tracker). The estimate's
default (``out_of_place=False``: the first sum in place, two head gradients) therefore reads one head gradient under
that moment; it is kept because the published torchtune rows were fitted with it (counting the first sum out of place:
in-sample within 10% 84% -> 85%, torchtune 79% -> 84%; opt-in-bwd -2.6% -> -0.5%, 8b-4090 -0.6% -> +4.0%; those rows
run torch.compile, whose backward no CPU run here reproduces); tests/estimate/test_chunked_head_backward.py compares
the estimate with the measurement less that one tensor. No estimate moment counted these before: the backward phase
read 7-12% low there, and with optimizer_in_backward (the head steps only once its summed gradient reaches its
AccumulateGrad node) that moment is the peak. 0 with a frozen head
(LoRA / QLoRA), for the other losses, and under FSDP / ZeRO sharding (each rank's unsharded head gradient is
reduce-scattered by hooks this moment was not measured with; the torchtune 70B row of
benchmarks/published/runs.toml, FSDP over 8 ranks with CPU offload, read +31.7% with the out-of-place moment counted
and reads -3.6% without it).
"""

from __future__ import annotations

from llmspec.estimate import precision as P
from llmspec.estimate.stack import loss_chunk_count
from llmspec.spec.models import Architecture, Training


def chunked_head_backward_bytes(arch: Architecture, tr: Training, tokens: float, mp: int = 1, sharded: bool = False,
                                out_of_place: bool = False) -> tuple[float, float]:
    """(head weight gradients, logits gradients) in bytes at the largest moment of the chunked loss's head backward
    (module docstring), or (0, 0). ``tokens``: the micro-batch's tokens per tensor-parallel rank; ``mp``: the model
    parallel degree dividing the head; ``sharded``: FSDP / ZeRO over more than one
    data-parallel rank. The gradients are in the compute dtype (the mm's outputs: bf16 under AMP too,
    where the _to_copy node sums them before casting to fp32). Three moments, the largest taken: the first chunk's
    head backward (one weight gradient, every chunk's logits gradient), the second's (the first gradient waiting, the
    second made, all but one chunk's logits gradients) and, with ``out_of_place`` (what a run makes: the first
    gradient is a view, module docstring), the first sum's (three weight gradients, all but two chunks')."""
    if tr.loss != "chunked" or tr.method in ("lora", "qlora") or sharded:
        return 0.0, 0.0
    c = loss_chunk_count(tr)
    b = P.activation_bytes(tr.precision)
    head = arch.vocab_size * arch.d_model * b / mp
    per_chunk = tokens * arch.vocab_size * b / c
    moments = [(k * head, max(c - k + 1, 0) * per_chunk) for k in (1, 2) if k <= c]
    if c >= 2 and out_of_place:
        moments.append((3 * head, (c - 2) * per_chunk))
    return max(moments, key=sum)
