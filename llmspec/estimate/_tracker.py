"""Live-storage accounting under FakeTensorMode (torch imported by the caller; see measure.py).

Every output storage of every op is recorded once, rounded up to 512 bytes (CUDA's caching allocator's
minimum block, so the peak matches ``torch.cuda.max_memory_allocated``), and forgotten through a weakref
callback when Python drops the storage. Each storage is given a category when it is allocated; the peak
of the running total is kept per phase (forward / backward / optimizer) with the category sums at that moment.

Autograd's gradient sums are accounted as a run without a dispatch mode makes them. The engine adds a gradient to
the one already waiting in a node's InputBuffer in place (``old_var.add_(var)``) when grad mode is off, the waiting
tensor is a plain dense tensor and the buffer holds its last reference and the last reference to its storage, and
the new one is not a subclass (torch==2.13.0:torch/csrc/autograd/input_buffer.cpp:accumulate and
can_accumulate_inplace); otherwise out of place (``old_var + var``). But at::isTensorSubclassLike answers true for
every tensor while any dispatch mode is active (torch==2.13.0:aten/src/ATen/TensorSubclassLikeUtils.h:
isTensorSubclassLike, ``if (c10::impl::dispatch_mode_enabled()) return true``), and fake tensors are subclasses:
under this tracker every sum runs out of place, and a sum the real run makes in place would hold one tensor more
(the sum beside both addends) until the buffer drops the old one. The tracker recognises the engine's sum (an
aten.add.Tensor called by the engine itself, not by Python code, with grad mode off, of two tensors of one shape and
dtype) and leaves its output out of the peak when the real run would have summed in place: the old gradient is not
a view (a view keeps its base, so its storage has two owners), is dense, and its storage is the next one freed
(the buffer held the last reference). A view or a gradient held elsewhere is summed out of place in the real run
too, and its moment counts (tests/estimate/test_tracker_input_buffer.py checks both against torch.profiler's
allocation events of runs with no dispatch mode). One backward formula branches on the same test and is accounted the
same way: index's (a Falcon multi-query block's K/V selection), out of place under a mode, in place without one.
"""

from __future__ import annotations

import math
import sys
import weakref
from types import FrameType

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

# Python frames between the engine's entry (torch/autograd/graph.py:_engine_run_backward) and __torch_dispatch__
# that are not Python code the engine runs (torch.compile's disable wrapper, dispatch-mode plumbing)
_WRAPPERS = ("torch/_dynamo/", "torch/_compile.py", "torch/utils/_python_dispatch.py")

ROUND = 512  # bytes; c10/cuda/CUDACachingAllocator.cpp kMinBlockSize


def rounded(nbytes: float) -> int:
    return int(math.ceil(nbytes / ROUND) * ROUND) if nbytes else 0


class StorageTracker(TorchDispatchMode):
    def __init__(self, vocab_size: int = 0):
        super().__init__()
        self.live: dict[int, tuple[int, str]] = {}
        self._refs: dict[int, weakref.ref] = {}
        self.sums: dict[str, int] = {}
        self.total = 0
        self.phase = "setup"
        self.peaks: dict[str, tuple[int, dict[str, int]]] = {}
        self.vocab_size = vocab_size
        self.params: set[int] = set()
        self.category_peaks: dict[str, int] = {}
        # an engine gradient sum whose moment waits for the next event: (old gradient's storage key, total, sums,
        # phase) at the sum; dropped if that storage is freed first (an in-place sum in the real run), else counted
        self._pending: tuple[int, int, dict[str, int], str] | None = None
        self.inplace_sums = 0  # engine sums accounted as in place (for tests and reports)

    # -- registration ------------------------------------------------------------------------------
    def register(self, tensor: torch.Tensor, category: str, nbytes: float | None = None) -> None:
        """Account an existing tensor's storage (parameters, buffers) under ``category``; ``nbytes``
        overrides its size (emulated storage such as NF4 weights or 8-bit optimizer states)."""
        self._commit()
        st = tensor.untyped_storage()
        key = id(st)
        if key in self.live:
            self._drop(key)
        size = rounded(st.nbytes() if nbytes is None else nbytes)
        self._add(key, st, size, category)

    def recategorize(self, tensor: torch.Tensor, category: str, nbytes: float | None = None) -> None:
        self.register(tensor, category, nbytes)

    def _add(self, key: int, st, size: int, category: str, sum_of: int | None = None) -> None:
        self.live[key] = (size, category)
        self._refs[key] = weakref.ref(st, lambda _ref: self._drop(key))
        self.sums[category] = self.sums.get(category, 0) + size
        self.total += size
        if sum_of is not None:
            self._pending = (sum_of, self.total, dict(self.sums), self.phase)
        else:
            self._note_peak(self.total, self.sums, self.phase)

    def _note_peak(self, total: int, sums: dict[str, int], phase: str) -> None:
        for category, value in sums.items():
            if value > self.category_peaks.get(category, 0):
                self.category_peaks[category] = value
        best = self.peaks.get(phase)
        if best is None or total > best[0]:
            self.peaks[phase] = (total, dict(sums))

    def _commit(self) -> None:
        """Count a waiting engine sum's moment: its old gradient outlived it (summed out of place for real too)."""
        if self._pending is not None:
            _key, total, sums, phase = self._pending
            self._pending = None
            self._note_peak(total, sums, phase)

    def _drop(self, key: int) -> None:
        if self._pending is not None:
            if self._pending[0] == key:  # the buffer dropped the old gradient: the real run summed into it in place
                self._pending = None
                self.inplace_sums += 1
            else:
                self._commit()
        entry = self.live.pop(key, None)
        self._refs.pop(key, None)
        if entry is not None:
            size, category = entry
            self.sums[category] -= size
            self.total -= size

    def reset_peaks(self) -> None:
        self._pending = None
        self.peaks = {}
        self.category_peaks = {}

    def __exit__(self, *exc):
        self._commit()
        return super().__exit__(*exc)

    @staticmethod
    def _engine_sum(func, args, kwargs) -> torch.Tensor | None:
        """The tensor a run without a dispatch mode writes this op's result into, else None: the waiting gradient
        of autograd's InputBuffer sum ``old_var + var`` (module docstring), or the zeros of index's backward, which
        under a mode runs ``zeros_like_self.index_put(indices, grad, true)`` and without one
        ``at::_index_put_impl_(zeros_like_self, ...)`` in place (torch/csrc/autograd/FunctionsManual.cpp:
        index_backward, on areAnyTensorSubclassLike). Whether the run would is settled by the next event: that
        tensor's storage freed at once (nothing else held it)."""
        if func is torch.ops.aten.add.Tensor:
            if len(args) != 2 or (kwargs and kwargs.get("alpha", 1) != 1):
                return None
            old, new = args
            if not (isinstance(old, torch.Tensor) and isinstance(new, torch.Tensor)):
                return None
            if old.shape != new.shape or old.dtype != new.dtype:
                return None
        elif func is torch.ops.aten.index_put.default:
            old = args[0]
            node = torch._C._current_autograd_node()
            if not isinstance(old, torch.Tensor) or type(node).__name__ != "IndexBackward0":
                return None
        else:
            return None
        if torch.is_grad_enabled() or old.layout != torch.strided or old._is_view():
            return None
        if torch._C._current_autograd_node() is None or not _dense(old):
            return None
        frame: FrameType | None = sys._getframe(2)
        while frame is not None and (frame.f_code.co_name == "__torch_dispatch__"
                                     or any(w in frame.f_code.co_filename.replace("\\", "/") for w in _WRAPPERS)):
            frame = frame.f_back
        # the engine's own call (C++ from backward's entry); a Python backward's or a recomputation's op is code
        if frame is None or frame.f_code.co_name != "_engine_run_backward":
            return None
        return old

    # -- dispatch ------------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self._commit()
        old = self._engine_sum(func, args, kwargs)
        out = func(*args, **(kwargs or {}))
        sum_of = id(old.untyped_storage()) if old is not None else None
        flat, _ = tree_flatten(out)
        category = self.phase
        if func is torch.ops.aten._to_copy.default and isinstance(args[0], torch.Tensor):
            if id(args[0].untyped_storage()) in self.params:
                category = "autocast_copies"
        for t in flat:
            if not isinstance(t, torch.Tensor):
                continue
            st = t.untyped_storage()
            key = id(st)
            if key in self.live:
                continue
            cat = category
            if self.vocab_size and t.dim() >= 2 and t.shape[-1] == self.vocab_size and t.shape[-2] != 0 \
                    and t.numel() > self.vocab_size * 64:
                cat = "logits"
            self._add(key, st, rounded(st.nbytes()), cat, sum_of if sum_of in self.live else None)
        return out


def _dense(t: torch.Tensor) -> bool:
    """Non-overlapping and dense (can_accumulate_inplace's layout test: some permutation of its dimensions is
    contiguous, c10/core/TensorImpl.h:is_non_overlapping_and_dense), and not a zero tensor."""
    if t._is_zerotensor():
        return False
    expected = 1
    for stride, size in sorted((st, sz) for sz, st in zip(t.shape, t.stride()) if sz != 1):
        if stride != expected:
            return False
        expected *= size
    return True
