"""--measure's tracker counts autograd's gradient sums as a run without any dispatch mode makes them
(llmspec.estimate._tracker, module docstring).

Under a TorchDispatchMode the engine sums the gradients meeting at a node out of place (at::isTensorSubclassLike is
true for every tensor while a mode is active: torch==2.13.0:aten/src/ATen/TensorSubclassLikeUtils.h), where a run
without a mode sums in place when the waiting gradient is a plain tensor the buffer holds alone
(torch==2.13.0:torch/csrc/autograd/input_buffer.cpp:accumulate, can_accumulate_inplace). The reference here is
independent of the tracker: torch.profiler's allocation events ([memory], reported by c10's CPU allocator, no
dispatch mode) of real CPU tensors, summed in time order.
"""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.needs("torch")


def _profiled_peak(fn) -> int:
    """Peak of the running sum of the CPU allocator's allocation events while ``fn`` runs (bytes above the start)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return peak


def _tracked_peak(fn, keep=()) -> tuple[int, int]:
    """(peak bytes above the registered tensors, engine sums accounted in place) of ``fn`` under the tracker, sizes
    unrounded so they compare with the allocator's."""
    from llmspec.estimate import _tracker

    saved = _tracker.ROUND
    _tracker.ROUND = 1
    try:
        tracker = _tracker.StorageTracker()
        for t in keep:
            tracker.register(t, "weights")
        base = tracker.total
        with tracker:
            tracker.phase = "run"
            fn()
        return tracker.peaks["run"][0] - base, getattr(tracker, "inplace_sums", 0)
    finally:
        _tracker.ROUND = saved


N = 64 * 1024  # elements of the minimal modules' tensors (256 KiB in fp32)


def _shared_input():
    """Two branches share an input: their gradients meet in the input's node and are summed there."""
    import torch

    w = torch.randn(N, requires_grad=True)

    def run():
        h = w * 2
        loss = (h * 3).sum() + (h * 5).sum()
        del h
        loss.backward()

    return w, run


def test_a_sum_made_in_place_without_a_mode_is_not_counted_twice():
    """Backward holds the two branch gradients (4N B each) and, without a mode, sums the second into the first: 8N B
    (+ the 4 B scalars). The old tracker counted the out-of-place sum its own mode forces, 12N B: one gradient high."""
    w, run = _shared_input()
    free = _profiled_peak(run)
    w.grad = None
    tracked, sums = _tracked_peak(run, keep=[w])
    assert 2 * N * 4 <= free < 2 * N * 4 + 64  # the hand count, on the allocator's own events
    assert tracked == pytest.approx(free, abs=64)
    assert sums == 1


def test_a_view_waiting_in_the_buffer_is_summed_out_of_place_in_a_real_run_too():
    """A weight used by an embedding and, transposed, by a head (a tied head): the head's gradient arrives first and is
    a view (mm's backward returns ``grad.t().mm(mat1).t()`` for a column-major operand, then TBackward transposes it
    back), and a view keeps its base, so its storage has two owners and can_accumulate_inplace is false: the run
    without a mode holds the sum beside both gradients too, and the tracker must count that moment."""
    import torch

    vocab, d, tokens = 1000, 64, 32
    weight = torch.randn(vocab, d, requires_grad=True)
    ids = torch.randint(0, vocab, (tokens,))

    def run():
        x = torch.nn.functional.embedding(ids, weight)
        torch.nn.functional.linear(x.tanh(), weight).sum().backward()

    free = _profiled_peak(run)
    weight.grad = None
    tracked, sums = _tracked_peak(run, keep=[weight])
    assert free >= 3 * vocab * d * 4  # the two gradients and their sum
    assert tracked == free
    assert sums == 0


def _model(family: str):
    """A real class from its own config fields, 2 blocks, fp32 on the CPU (128 tokens)."""
    import torch
    from transformers import AutoModelForCausalLM, FalconConfig, LlamaConfig, PretrainedConfig

    torch.manual_seed(0)
    cfg: PretrainedConfig
    if family == "llama":
        cfg = LlamaConfig(vocab_size=256, hidden_size=128, intermediate_size=344, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                          tie_word_embeddings=False)
    else:  # Falcon-7B's layout: multi-query, parallel attention, fused query_key_value
        cfg = FalconConfig(vocab_size=256, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                           multi_query=True, parallel_attn=True, new_decoder_architecture=False, alibi=False,
                           bias=False, hidden_dropout=0.0, attention_dropout=0.0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="sdpa")
    model.train()
    ids = torch.randint(0, 256, (1, 128))

    def run():
        model(input_ids=ids, labels=ids).loss.backward()

    def clear():
        for p in model.parameters():
            p.grad = None

    return model, run, clear


def _backward_allocations(fn) -> Counter:
    """The allocator's allocations during backward, by (bytes, innermost op, innermost autograd scope)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = prof.profiler.kineto_results.events()
    ops = [e for e in events if e.name() != "[memory]"]
    found: Counter = Counter()
    for m in (e for e in events if e.name() == "[memory]" and e.nbytes() > 0):
        around = sorted((o for o in ops if o.start_ns() <= m.start_ns() <= o.start_ns() + o.duration_ns()),
                        key=lambda o: o.duration_ns())
        scopes = [o.name() for o in around if "Backward" in o.name() or o.name().startswith("autograd::")]
        if around and scopes:
            found[(m.nbytes(), around[0].name(), scopes[0])] += 1
    return found


@pytest.mark.eval
@pytest.mark.parametrize("family", ["llama", "falcon"])
def test_what_only_a_mode_allocates_in_backward_is_what_the_tracker_leaves_out(family):
    """On the real LlamaForCausalLM and FalconForCausalLM: the allocations of backward that exist only under a
    dispatch mode (a mode that does nothing, against no mode, from the allocator's events) are exactly the ones the
    tracker accounts as written in place, by count and size: the engine's gradient sums (the residual stream into each
    norm, q / k / v and gate / up sharing their input, the rotary halves) and, in Falcon's multi-query blocks, the
    zeros of index's backward. The old tracker left none out. The peaks agree."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from llmspec.estimate import _tracker

    class Nothing(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    def under_mode():
        with Nothing():
            run()

    model, run, clear = _model(family)
    run()
    clear()  # first call: lazy initialisations out of the way
    free = _backward_allocations(run)
    clear()
    moded = _backward_allocations(under_mode)
    clear()
    assert not free - moded  # nothing is allocated only without a mode
    only_moded = sorted(key[0] for key in (moded - free).elements())
    assert len(only_moded) >= 10

    class Sizes(_tracker.StorageTracker):
        sizes: list[int] = []

        def _drop(self, key):
            pending = getattr(self, "_pending", None)
            if pending is not None and pending[0] == key:
                Sizes.sizes.append(self.live[key][0])
            super()._drop(key)

    saved, _tracker.ROUND = _tracker.ROUND, 1
    try:
        tracker = Sizes()
        for p in model.parameters():
            tracker.register(p, "weights")
        for b in model.buffers():
            tracker.register(b, "weights")
        base = tracker.total
        with tracker:
            tracker.phase = "run"
            run()
    finally:
        _tracker.ROUND = saved
    clear()
    assert sorted(Sizes.sizes) == only_moded
    assert tracker.peaks["run"][0] - base == pytest.approx(_profiled_peak(run), abs=256)


@pytest.mark.eval
def test_tied_head_under_autocast_matches_a_run_without_a_mode():
    """The real GemmaForCausalLM (tied head, 2 blocks, 16 tokens, vocab 32,000) under bf16 autocast on real CPU
    tensors. The head's weight gradient reaches the tied matrix's AccumulateGrad node through the autocast copy's
    backward (a fresh fp32 tensor, not a view) and waits there; at the end of backward the embedding's gradient is
    summed into it, in place without a mode. Backward's peak is that moment: the old tracker counted the sum beside
    both gradients, one vocab x d_model fp32 tensor (32.75 MB) over the allocator's peak of a run without a mode."""
    import torch
    from transformers import AutoModelForCausalLM, GemmaConfig

    vocab, d = 32000, 256
    torch.manual_seed(0)
    cfg = GemmaConfig(vocab_size=vocab, hidden_size=d, intermediate_size=512, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=1, head_dim=64, max_position_embeddings=256,
                      tie_word_embeddings=True, attn_implementation="sdpa")
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    model.train()
    ids = torch.randint(0, vocab, (1, 16))

    def run():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()

    def clear():
        for p in model.parameters():
            p.grad = None

    run()
    clear()
    free = _profiled_peak(run)
    clear()
    tracked, sums = _tracked_peak(run, keep=[*model.parameters(), *model.buffers()])
    assert tracked == free
    assert sums >= 1
