"""What would fit: the cheapest changes that bring a run under its GPU memory.

Each candidate is applied to a copy of the spec and re-estimated, so a fix is only offered when the
estimate says it fits with MEM002's headroom (total = peak allocated + overhead <= (1 - MIN_HEADROOM) x
capacity): a suggestion, once applied, passes MEM001/MEM003 and MEM002. "Cost" is an explicit ordering of
what a change gives up, cheapest first:

1. no change to the result, some speed: activation checkpointing (~+33% compute, Korthikanti et al. 2022),
   smaller micro-batch with more accumulation (same global batch, lower utilisation), sharding states
   over GPUs already in the job (communication: ZeRO-1 < ZeRO-2 < ZeRO-3/FSDP);
2. a small numerical risk: 8-bit optimizer states (Dettmers et al. 2022 report parity);
3. more money: more GPUs (with FSDP);
4. a lot of speed: CPU offload of optimizer states (ZeRO-Offload);
5. a different training method: LoRA, then QLoRA (quality can differ from full fine-tuning).

Inference: smaller batch, fp8/int8 KV cache, int8 then int4 weights, more GPUs (tensor parallel), shorter
context. When no single change fits, pairs are tried, then triples; ranked by the sum of their costs.

A spec with both [training] and [inference] is one run: a fix must leave both verdicts clean. When one does not
fit and the other also falls short (does not fit, or fits under MEM002's headroom), each fix combines one
training fix and one inference fix, re-estimated together; every fix is checked against both estimates.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmspec.spec.models import Hardware, Inference, Lora, Spec, Training

_DEFAULTS = {"training": Training, "hardware": Hardware, "inference": Inference, "lora": Lora}

MIN_HEADROOM = 0.10  # free share of GPU memory below which an OOM is likely in practice (MEM002's default)


def fits_with_headroom(est, min_headroom: float = MIN_HEADROOM) -> bool:
    """The estimate fits and leaves ``min_headroom`` of the capacity free. A paged serving engine fills its share by
    design and queues what its pool cannot hold (llmspec.estimate.engine): for it, fitting is starting."""
    if getattr(est, "concurrency", None) is not None:
        return bool(est.fits)
    return bool(est.fits) and est.headroom_bytes >= min_headroom * est.capacity_bytes


@dataclass
class Fix:
    mode: str  # "training" | "inference"
    description: str
    overrides: dict[str, Any]
    cost: float
    impact: str
    per_gpu_bytes: int = 0
    total_bytes: int = 0
    capacity_bytes: int | None = None
    group: str = ""
    totals: dict[str, int] = field(default_factory=dict)
    """Each verdict's total per GPU once the fix is applied (mode -> bytes); ``total_bytes`` is the larger."""

    @property
    def modes(self) -> tuple[str, ...]:
        """The verdicts this fix repairs: ("training",), ("inference",) or both."""
        return tuple(self.mode.split("+"))

    @property
    def set_args(self) -> list[str]:
        """The changes as ``--set key=value`` arguments."""
        return [f"{k}={_toml(v)}" for k, v in self.overrides.items()]

    def to_dict(self) -> dict:
        return {"mode": self.mode, "description": self.description, "overrides": dict(self.overrides),
                "set": self.set_args, "cost": self.cost, "impact": self.impact,
                "per_gpu_bytes": self.per_gpu_bytes, "total_bytes": self.total_bytes,
                "capacity_bytes": self.capacity_bytes, "totals": dict(self.totals)}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # --set reads a bare word as a string
        bare = re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*", value) and value not in ("true", "false", "inf", "nan")
        return value if bare else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) if isinstance(v, str) else _toml(v) for v in value) + "]"
    return str(value)


def with_overrides(spec: Spec, overrides: dict[str, Any]) -> Spec:
    """A copy of ``spec`` with dotted keys replaced (missing tables created with their defaults). Each model
    on the way is copied once (shallow ``model_copy``), however many of its keys change."""
    tree: dict[str, Any] = {}
    for key, value in overrides.items():
        node = tree
        *parents, last = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, _Tree):
                child = node[part] = _Tree()
            node = child
        node[last] = value
    return _put(spec, tree)


class _Tree(dict):
    """The overrides under one table (as opposed to a value that is itself a dict)."""


def _put(obj, tree: dict[str, Any]):
    update = {}
    for name, value in tree.items():
        if isinstance(value, _Tree):
            child = getattr(obj, name)
            value = _put(child if child is not None else _DEFAULTS[name](), value)
        update[name] = value
    return obj.model_copy(update=update)


@dataclass
class _Candidate:
    group: str
    description: str
    overrides: dict[str, Any]
    cost: float
    impact: str
    extra: list[str] = field(default_factory=list)


def _training_candidates(spec: Spec) -> list[_Candidate]:
    tr = spec.training or Training()
    hw = spec.hardware or Hardware()
    out: list[_Candidate] = []
    if not tr.activation_checkpointing:
        out.append(_Candidate("ckpt", "enable activation checkpointing",
                              {"training.activation_checkpointing": True}, 1.0,
                              "~33% more compute (forward recomputed); same result"))
    elif tr.checkpoint_policy == "selective-op" or (tr.checkpoint_policy == "every-n" and tr.checkpoint_every != 1):
        # a partial policy (training.checkpoint_policy) keeps more than full checkpointing: every-n with n = 1 is full
        key, value = (("training.checkpoint_policy", "full") if tr.checkpoint_policy == "selective-op"
                      else ("training.checkpoint_every", 1))
        out.append(_Candidate("ckpt", "checkpoint every block fully", {key: value}, 1.0,
                              "more compute (every block's whole forward recomputed); same result"))
    out += _stack_candidates(tr, spec.hardware)
    mb, ga = tr.micro_batch_size, tr.gradient_accumulation
    k = 2
    while mb // k >= 1 and mb % k == 0:
        out.append(_Candidate("batch", f"micro-batch {mb // k} with gradient accumulation {ga * k} (same global batch)",
                              {"training.micro_batch_size": mb // k, "training.gradient_accumulation": ga * k},
                              1.5 + 0.1 * k, "same global batch; lower GPU utilisation per step"))
        k *= 2
    order = ["none", "zero1", "zero2", "zero3", "fsdp"]
    if hw.world_size > 1:
        for i, shard in enumerate(("zero1", "zero2", "fsdp")):
            if order.index(shard) > order.index(hw.sharding):
                out.append(_Candidate("shard", f"shard over the {hw.world_size} GPUs with {shard}",
                                      {"hardware.sharding": shard}, 2.0 + 0.2 * i,
                                      "more communication per step; same result"))
    if tr.optimizer in ("adam", "adamw"):
        out.append(_Candidate("opt", "8-bit AdamW states (bitsandbytes)", {"training.optimizer": "adamw_8bit"}, 3.0,
                              "small numerical risk; reported on par with 32-bit Adam (Dettmers et al. 2022)"))
    if hw.count < 8:
        out.append(_Candidate("gpus", f"use 8 GPUs per node with FSDP (now {hw.count})",
                              {"hardware.count": 8, "hardware.sharding": "fsdp"}, 4.0,
                              f"{8 // hw.count}x the GPUs (money); same result"))
    if hw.sharding in ("zero3", "fsdp") or hw.count >= 8:
        out.append(_Candidate("nodes", f"use {hw.nodes * 2} nodes (now {hw.nodes})",
                              {"hardware.nodes": hw.nodes * 2, "hardware.sharding": "fsdp"}, 4.5,
                              "2x the GPUs (money); same result"))
    if hw.offload == "none":
        out.append(_Candidate("offload", "offload optimizer states to CPU (ZeRO-Offload)",
                              {"hardware.offload": "optimizer"}, 5.0, "much slower optimizer steps; same result"))
    if tr.method in ("full",):
        out.append(_Candidate("method", "LoRA r=16 on all linear layers",
                              {"training.method": "lora", "training.lora.targets": ["all-linear"]}, 6.0,
                              "trains adapters only: quality can differ from full fine-tuning"))
    if tr.method in ("full", "lora"):
        changes: dict[str, Any] = {"training.method": "qlora"}
        if tr.method == "full":
            changes["training.lora.targets"] = ["all-linear"]
        out.append(_Candidate("method", "QLoRA (NF4 base) with LoRA r=16 on all linear layers"
                              if tr.method == "full" else "QLoRA (NF4 base) with the same adapters", changes, 7.0,
                              "4-bit base weights: slower steps, quality can differ"))
    return out


def _stack_candidates(tr: Training, hw: Hardware | None = None) -> list[_Candidate]:
    """Knobs of the training stack (issue 12) that the stack supports: a fused optimizer step, a chunked or fused
    linear loss, activation offloading, a paged 8-bit optimizer, and under FSDP with gradient accumulation a
    reduce-scatter on every micro-batch (llmspec.estimate.stack has their effects)."""
    from llmspec.spec.stacks import stack

    supports = stack(tr.stack).supports

    def ok(knob: str, value: Any) -> bool:  # the stack can run the knob with this value (MEM004's table)
        support = supports.get(knob)
        allowed = support.allowed(getattr(tr, support.by, None)) if support is not None else None
        return allowed is None or value in allowed
    out: list[_Candidate] = []
    if tr.optimizer in ("adam", "adamw") and tr.optimizer_impl != "fused" and not tr.optimizer_in_backward:
        out.append(_Candidate("impl", "fused AdamW step (no state-sized temporary)", {"training.optimizer_impl": "fused"},
                              0.2, "same result; usually faster"))
    if tr.loss == "full":
        loss = "chunked" if ok("loss", "chunked") else "fused-linear" if ok("loss", "fused-linear") else None
        if loss:
            out.append(_Candidate("loss", f"{loss} cross-entropy" + (" (e.g. Liger: use_liger_kernel)" if loss == "fused-linear"
                                                                         else " (8 chunks)"),
                                  {"training.loss": loss} | ({"training.loss_chunks": 8} if loss == "chunked" else {}),
                                  0.5, "same result; the logits are never all upcast to fp32 at once"))
    if not tr.activation_offload and ok("activation_offload", True):
        out.append(_Candidate("offload_act", "offload activations to CPU", {"training.activation_offload": True}, 2.5,
                              "slower steps when PCIe cannot hide the copies; same result"))
    if tr.sync_each_batch is False and tr.gradient_accumulation > 1 and hw is not None and hw.sharding == "fsdp":
        out.append(_Candidate("sync", "reduce-scatter gradients on every micro-batch (accelerate sync_each_batch)",
                              {"training.sync_each_batch": True}, 0.3,
                              "same result; one gradient reduce-scatter per micro-batch instead of per step"))
    if tr.optimizer in ("adam", "adamw", "adamw_8bit") and not tr.paged_optimizer:
        out.append(_Candidate("paged", "paged 8-bit AdamW (bitsandbytes)",
                              {"training.optimizer": "adamw_8bit", "training.paged_optimizer": True}, 3.2,
                              "states paged between GPU and CPU under pressure: slower when paging; small numerical risk"))
    return out


def _inference_candidates(spec: Spec) -> list[_Candidate]:
    inf = spec.inference or Inference()
    hw = spec.hardware or Hardware()
    out: list[_Candidate] = []
    b = inf.batch_size
    k = 2
    while b // k >= 1:
        out.append(_Candidate("batch", f"batch size {b // k}", {"inference.batch_size": b // k}, 1.0 + 0.1 * k,
                              "fewer concurrent sequences: lower throughput"))
        k *= 2
    if inf.kv_allocation == "paged" and (inf.gpu_memory_utilization or 0.9) < 0.9:  # vLLM's default share
        out.append(_Candidate("share", "gpu_memory_utilization 0.9", {"inference.gpu_memory_utilization": 0.9}, 0.5,
                              "less of the GPU left to other processes"))
    if inf.kv_cache_precision not in ("fp8", "int8") and inf.precision != "fp32":
        out.append(_Candidate("kv", "fp8 KV cache", {"inference.kv_cache_precision": "fp8"}, 1.5,
                              "small accuracy risk on long contexts"))
    for i, prec in enumerate(("int8", "int4")):
        if inf.precision in ("fp32", "bf16", "fp16", "fp8") or (prec == "int4" and inf.precision == "int8"):
            out.append(_Candidate("quant", f"{prec} weights", {"inference.precision": prec}, 2.0 + i,
                                  "weight-only quantisation: some accuracy loss"))
    tp = inf.tensor_parallel or (hw.tensor_parallel if hw.tensor_parallel > 1 else hw.count)
    if tp < 8:
        more = {"hardware.count": tp * 2} if hw.world_size < tp * 2 else {}  # HW004: tp cannot exceed the GPUs
        out.append(_Candidate("gpus", f"tensor parallel over {tp * 2} GPUs" + (f" (hardware.count {tp * 2})" if more else ""),
                              {"inference.tensor_parallel": tp * 2} | more, 3.5, "more GPUs per replica (money)"))
    return out


def _fix(mode: str, combo: tuple[_Candidate, ...], merged: dict[str, Any], est) -> Fix:
    return Fix(mode, " + ".join(c.description for c in combo), merged, sum(c.cost for c in combo),
               "; ".join(c.impact for c in combo), est.per_gpu_bytes, est.total_bytes, est.capacity_bytes,
               "+".join(c.group for c in combo), {mode: est.total_bytes})


def _search(spec: Spec, mode: str, cands: list[_Candidate], size: int, estimator: Callable, limit: int,
            seen: dict[str, Any]) -> list[Fix]:
    """Every fitting combination of ``size`` candidates of distinct groups that can be among the ``limit``
    cheapest, in combination order. Combinations are estimated cheapest first and the search stops once
    ``limit`` groups have a fit cheaper than every remaining combination: what_would_fit keeps the cheapest fix
    per group and then the ``limit`` cheapest, so the combinations left out could not change its result; for the
    same reason a combination is skipped when a cheaper variant of its group (e.g. a larger micro-batch) fits.
    ``seen`` memoises estimates by the merged overrides (two combinations can make the same change)."""
    combos = [c for c in itertools.combinations(cands, size) if len({x.group for x in c}) == size]
    order = sorted(range(len(combos)), key=lambda i: sum(c.cost for c in combos[i]))
    found: dict[int, Fix] = {}
    best: dict[str, float] = {}  # group -> cost of its cheapest fit so far
    for i in order:
        combo = combos[i]
        cost = sum(c.cost for c in combo)
        if 0 < limit <= len(best) and cost > sorted(best.values())[limit - 1]:
            break
        group = "+".join(c.group for c in combo)
        if group in best and cost > best[group]:
            continue  # a cheaper variant of the same kind of change already fits
        merged: dict[str, Any] = {}
        for c in combo:
            merged.update(c.overrides)
        key = repr(sorted(merged.items()))
        est = seen.get(key)
        if est is None:
            est = seen[key] = estimator(with_overrides(spec, merged))
        if fits_with_headroom(est):
            found[i] = _fix(mode, combo, merged, est)
            best[group] = min(best.get(group, cost), cost)
    return [found[i] for i in sorted(found)]


def _plans() -> dict[str, tuple[Callable[[Spec], Any], Callable[[Spec], list[_Candidate]]]]:
    from llmspec.estimate.inference import inference_memory
    from llmspec.estimate.training import training_memory

    return {"training": (training_memory, _training_candidates), "inference": (inference_memory, _inference_candidates)}


def _short(est) -> bool:
    """The verdict needs a fix: it does not fit, or fits with less than MEM002's headroom (unknown capacity: no)."""
    return est.fits is False or (bool(est.fits) and not fits_with_headroom(est))


def mode_fixes(spec: Spec, mode: str, limit: int) -> list[Fix]:
    """The ``limit`` cheapest fixes (one per kind of change) that bring ``mode`` under MEM002's headroom."""
    estimator, candidates = _plans()[mode]
    cands = candidates(spec)
    found: list[Fix] = []
    seen: dict[str, Any] = {}
    for size in (1, 2, 3):  # single changes first; combinations only when nothing smaller fits
        found = _search(spec, mode, cands, size, estimator, limit, seen)
        if found:
            break
    best: dict[str, Fix] = {}
    for fix in sorted(found, key=lambda f: (f.cost, f.total_bytes)):
        best.setdefault(fix.group, fix)  # cheapest variant per kind of change
    return sorted(best.values(), key=lambda f: (f.cost, f.total_bytes))[:limit]


def complete(spec: Spec, fixes_by_mode: dict[str, list[Fix]], modes: list[str], limit: int) -> list[Fix]:
    """The fixes that leave every verdict in ``modes`` under MEM002's headroom once applied, cheapest first. With
    one mode short, its fixes checked against the other estimate too (a training fix may change the GPU count);
    with both short, each training fix joined with each inference fix (their overrides must not disagree) and
    re-estimated for both, the ``limit`` cheapest pairs."""
    plans = _plans()
    short = list(fixes_by_mode)
    if len(short) == 1:
        pairs: list[tuple[Fix, ...]] = [(f,) for f in fixes_by_mode[short[0]]]
    else:
        pairs = sorted(itertools.product(*(fixes_by_mode[m] for m in short)), key=lambda p: sum(f.cost for f in p))
    out: list[Fix] = []
    for pair in pairs:
        merged: dict[str, Any] = {}
        if any(merged.setdefault(k, v) != v for f in pair for k, v in f.overrides.items()):
            continue  # e.g. both change hardware.count, to different values
        changed = with_overrides(spec, merged)
        ests = {m: plans[m][0](changed) for m in modes}
        if not all(fits_with_headroom(e) for e in ests.values()):
            continue
        out.append(pair[0] if len(pair) == 1 else _join(pair, merged, ests))
        if len(out) == limit:
            break
    return out


def _join(pair: tuple[Fix, ...], merged: dict[str, Any], ests: dict[str, Any]) -> Fix:
    worst = max(ests.values(), key=lambda e: e.total_bytes)
    return Fix("+".join(f.mode for f in pair), "; ".join(f"{f.mode}: {f.description}" for f in pair), merged,
               sum(f.cost for f in pair), "; ".join(f.impact for f in pair), worst.per_gpu_bytes, worst.total_bytes,
               worst.capacity_bytes, "|".join(f.group for f in pair), {m: e.total_bytes for m, e in ests.items()})


def what_would_fit(spec: Spec, limit: int = 5) -> list[Fix]:
    """Ranked fixes (cheapest first) when the training or inference set-up does not fit; [] when everything fits
    or the capacity is unknown. Each fix, once applied, leaves every verdict of the spec (MEM001, MEM003) fitting
    with MEM002's headroom: when both need a fix, each fix is a training change plus an inference change."""
    plans = _plans()
    modes = [m for m, present in (("training", spec.training), ("inference", spec.inference)) if present is not None]
    ests = {m: plans[m][0](spec) for m in modes}
    if not any(e.fits is False for e in ests.values()):
        return []
    short = [m for m in modes if _short(ests[m])]
    return complete(spec, {m: mode_fixes(spec, m, limit) for m in short}, modes, limit)
