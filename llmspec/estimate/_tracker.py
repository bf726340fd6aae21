"""Live-storage accounting under FakeTensorMode (torch imported by the caller; see measure.py).

Every output storage of every op is recorded once, rounded up to 512 bytes (CUDA's caching allocator's
minimum block, so the peak matches ``torch.cuda.max_memory_allocated``), and forgotten through a weakref
callback when Python drops the storage. Each storage is given a category when it is allocated; the peak
of the running total is kept per phase (forward / backward / optimizer) with the category sums at that moment.
"""

from __future__ import annotations

import math
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

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

    # -- registration ------------------------------------------------------------------------------
    def register(self, tensor: torch.Tensor, category: str, nbytes: float | None = None) -> None:
        """Account an existing tensor's storage (parameters, buffers) under ``category``; ``nbytes``
        overrides its size (emulated storage such as NF4 weights or 8-bit optimizer states)."""
        st = tensor.untyped_storage()
        key = id(st)
        if key in self.live:
            self._drop(key)
        size = rounded(st.nbytes() if nbytes is None else nbytes)
        self._add(key, st, size, category)

    def recategorize(self, tensor: torch.Tensor, category: str, nbytes: float | None = None) -> None:
        self.register(tensor, category, nbytes)

    def _add(self, key: int, st, size: int, category: str) -> None:
        self.live[key] = (size, category)
        self._refs[key] = weakref.ref(st, lambda _ref: self._drop(key))
        self.sums[category] = self.sums.get(category, 0) + size
        self.total += size
        if self.sums[category] > self.category_peaks.get(category, 0):
            self.category_peaks[category] = self.sums[category]
        best = self.peaks.get(self.phase)
        if best is None or self.total > best[0]:
            self.peaks[self.phase] = (self.total, dict(self.sums))

    def _drop(self, key: int) -> None:
        entry = self.live.pop(key, None)
        self._refs.pop(key, None)
        if entry is not None:
            size, category = entry
            self.sums[category] -= size
            self.total -= size

    def reset_peaks(self) -> None:
        self.peaks = {}
        self.category_peaks = {}

    # -- dispatch ------------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
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
            self._add(key, st, rounded(st.nbytes()), cat)
        return out
