"""Exact parameter counts: total, active per token (MoE) and trainable (full fine-tuning or LoRA adapters).

Pure Python on the spec's Architecture. The formulas follow the module shapes of the Hugging Face
implementations (transformers 5.23, ``models/<family>/modeling_<family>.py``): an ``nn.Linear(i, o)`` holds
``i*o`` weights (+ ``o`` with a bias), an RMSNorm ``d`` weights, a LayerNorm ``2d`` (weight and bias), OLMo's
non-parametric LayerNorm none; a tied head shares the embedding matrix. Tests check every supported family
against ``sum(p.numel())`` of the transformers model built on the meta device, and against published totals
(GPT-2 124,439,808; Llama-2-7B 6,738,415,616; Mistral-7B 7,241,732,096).

LoRA adds ``r * (d_in + d_out)`` parameters to each adapted ``d_in x d_out`` matrix (Hu et al. 2021,
"LoRA: Low-Rank Adaptation of Large Language Models", section 4.1: W0 + BA with B in R^{d x r}, A in R^{r x k});
each MoE expert gets its own adapter, as in PEFT. QLoRA trains the same adapters (Dettmers et al. 2023).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from llmspec.spec.families import modules_for
from llmspec.spec.models import Architecture, Training
from llmspec.spec.module_tree import adaptable, distinct_names

# Norm parameters per normalised width (see module docstring).
NORM_WIDTH = {"rmsnorm": 1, "layernorm": 2, "layernorm_nobias": 1, "nonparametric": 0}


@dataclass(frozen=True)
class LoraShape:
    """One family of adapted matrices: ``copies`` matrices of ``d_in x d_out`` (n_layers, or x n_experts)."""

    target: str  # the target name as written (q_proj, experts' down_proj is "down_proj", ...)
    role: str  # q, k, v, o, qkv, gate, up, gate_up, down, router, shared_gate (with "expert."/"shared." prefix),
    # embed, pos_embed, head (llmspec.spec.families)
    d_in: int
    d_out: int
    copies: int
    rank_factor: int = 1
    """The adapter's rank is rank_factor x lora.rank: 2 on the fused gate_up_proj experts, where PEFT doubles the
    rank of the two fused transformers-4 projections (w1 + w3; peft/utils/transformers_weight_conversion.py,
    _convert_peft_config_moe: rank_pattern r x len(required_old_targets))."""

    def params(self, rank: int) -> int:
        return rank * self.rank_factor * (self.d_in + self.d_out) * self.copies


@dataclass
class ParamCount:
    total: int
    """All distinct parameters (a tied head counted once)."""
    active: int
    """Parameters used per token: total minus the routed experts a token does not visit (MoE)."""
    trainable: int
    """Parameters updated by the run: total for pretrain/full, the adapters for lora/qlora."""
    breakdown: dict[str, int] = field(default_factory=dict)
    """Ordered parts of total: embeddings, position_embeddings, attention, mlp (dense blocks), experts / router /
    shared_experts (MoE blocks), norms, head."""
    lora: int = 0
    """Adapter parameters (0 unless method is lora/qlora)."""
    unmatched_targets: tuple[str, ...] = ()
    """LoRA targets that name no module of this architecture (PEFT ignores them unless none matches)."""

    def to_dict(self) -> dict:
        out = asdict(self)
        out["unmatched_targets"] = list(self.unmatched_targets)
        return out


# --- memoisation -------------------------------------------------------------------------------------------------
# The shapes and counts below are pure functions of an Architecture's field values (plus the LoRA targets, rank
# and family where given). "What would fit" re-estimates one architecture dozens of times, and a bulk lint sees
# the same base models again and again, so they are memoised on a key made of every field value (with its type,
# the MoE table's included). An Architecture with an unhashable value is simply not memoised.


def _values(obj) -> tuple:
    fields = obj.__dict__
    values = tuple(fields.values())
    return (type(obj), tuple(fields), values, tuple(map(type, values)))


def arch_key(arch: Architecture) -> tuple | None:
    """A hashable key of everything an Architecture's derived shapes depend on (class, field names, values and
    their types, the MoE table's included), or None when a value is not hashable. Built from the current field
    values on each call (~2 us), so a mutated architecture gets a new key."""
    key = _values(arch)
    moe = arch.__dict__.get("moe")
    if moe is not None:
        key = key[:2] + (tuple(_values(v) if v is moe else v for v in key[2]),) + key[3:]
    try:
        hash(key)
    except TypeError:
        return None
    return key


class Memo:
    """A bounded dict cache with hit / miss counters (benchmarks/lint_speed.py reports them)."""

    def __init__(self, name: str, size: int = 1024):
        self.name, self.size = name, size
        self.data: dict[tuple, Any] = {}
        self.hits = self.misses = 0

    def get(self, key: tuple | None, compute: Callable[[], Any]) -> Any:
        if key is None:
            return compute()
        try:
            found = self.data[key]
        except KeyError:
            self.misses += 1
            if len(self.data) >= self.size:
                self.data.clear()
            found = self.data[key] = compute()
            return found
        self.hits += 1
        return found


MEMOS: dict[str, Memo] = {}


def memo(name: str) -> Memo:
    return MEMOS.setdefault(name, Memo(name))


def layout_for(family: str | None) -> Mapping[str, tuple[str, ...]]:
    """target name -> roles, for a family (HF model_type): the family registry's real module names, the
    separate-projection layout when the family is unknown (llmspec.spec.families)."""
    return modules_for(family)


def layer_split(arch: Architecture) -> tuple[int, int]:
    """(blocks with a dense MLP, blocks with an MoE MLP): MoE.dense_layers of the blocks are dense (DeepSeek's
    first_k_dense_replace, Qwen-MoE's mlp_only_layers / decoder_sparse_step), the rest MoE; all dense without MoE."""
    if arch.moe is None:
        return arch.n_layers, 0
    dense = min(arch.moe.dense_layers, arch.n_layers)
    return dense, arch.n_layers - dense


def _role_shapes(arch: Architecture, role: str) -> list[tuple[str, int, int, int]]:
    """(role label, d_in, d_out, copies) of every matrix a role covers; [] when the architecture has none."""
    d, L, hd = arch.d_model, arch.n_layers, arch.head_size
    q_out, kv_out = arch.n_heads * hd, arch.kv_heads * hd
    # PEFT's Embedding LoRA: lora_embedding_A (r x rows), lora_embedding_B (d x r) -> r * (rows + d), like a linear
    if role == "embed":
        return [("embed", arch.vocab_size, d, 1)]
    if role == "pos_embed":
        return [("pos_embed", arch.learned_positions or arch.context_length, d, 1)] if arch.position == "learned" \
            else []
    if role == "head":
        return [("head", d, arch.vocab_size, 1)]
    attn = {"q": (d, q_out), "k": (d, kv_out), "v": (d, kv_out), "o": (q_out, d), "qkv": (d, q_out + 2 * kv_out)}
    if role in attn:
        return [(role, *attn[role], L)]
    moe = arch.moe
    dense_layers, moe_layers = layer_split(arch)
    if role == "router":
        return [("router", d, moe.n_experts, moe_layers)] if moe and moe_layers else []
    if role == "shared_gate":
        has_gate = moe and moe_layers and moe.shared_experts and moe.shared_expert_gate
        return [("shared_gate", d, 1, moe_layers)] if has_gate else []
    if role in ("gate", "gate_up") and not arch.gated:
        return []
    mlps: list[tuple[str, int, int]] = [("", arch.ffn_dim, dense_layers)]  # (prefix, ffn width, copies)
    if moe is not None:
        f_e = moe.expert_ffn_dim or arch.ffn_dim
        mlps.append(("expert.", f_e, moe_layers * moe.n_experts))
        if moe.shared_experts:
            mlps.append(("shared.", moe.shared_expert_ffn_dim or f_e, moe_layers))
    shapes = []
    for prefix, f, copies in mlps:
        if not copies:
            continue
        d_in, d_out = {"gate": (d, f), "up": (d, f), "gate_up": (d, 2 * f), "down": (f, d)}[role]
        shapes.append((prefix + role, d_in, d_out, copies))
    return shapes


_NOT_LINEAR = {"embed", "pos_embed", "head"}  # "all-linear" leaves out embeddings and the output head


def all_linear_targets(arch: Architecture, family: str | None = None) -> list[str]:
    """The targets PEFT's "all-linear" selects: every block linear, not the output head (QLoRA repo convention,
    peft.tuners.tuners_utils._maybe_include_all_linear_layers); routers included, as they are linears."""
    key = arch_key(arch)
    return list(memo("all_linear_targets").get(key and (key, family), lambda: tuple(
        name for name in module_names(arch, family) if not set(layout_for(family)[name]) & _NOT_LINEAR)))


def attention_targets(arch: Architecture, family: str | None = None) -> list[str]:
    """The attention projections' target names (the usual LoRA default: q, k, v, o or the family's fused names)."""
    attn = {"q", "k", "v", "o", "qkv"}
    return [name for name in all_linear_targets(arch, family) if attn & set(layout_for(family)[name])]


def lora_shapes(arch: Architecture, targets: list[str] | tuple[str, ...],
                family: str | None = None) -> list[LoraShape]:
    """Adapted matrices for LoRA ``targets`` (HF module names, or "all-linear"), with GQA k/v widths and one
    adapter per MoE expert. Names that match nothing in this architecture are left out (see unmatched_targets)."""
    key = arch_key(arch)
    key = key and (key, tuple(targets), family)
    return list(memo("lora_shapes").get(key, lambda: tuple(_lora_shapes(arch, targets, family))))


def _lora_shapes(arch: Architecture, targets, family: str | None) -> list[LoraShape]:
    """Each matched target (llmspec.estimate.lora_targets.resolve, the resolution ARC005 reports) adds the matrices
    of its name's roles, only those of the modules it selects when it is dotted (``attn.c_proj``,
    ``shared_expert.gate_proj``), one block's when it names a block index; a matrix selected twice is counted once."""
    from llmspec.estimate.lora_targets import blocks_of, resolve

    names = all_linear_targets(arch, family) if "all-linear" in targets else list(dict.fromkeys(targets))
    layout = layout_for(family)
    experts = peft_experts(family) if arch.moe is not None else "separate"
    seen: set[str] = set()
    per_block: dict[str, set[int]] = {}  # label -> block indices adapted one at a time
    out = []
    verdicts = [v for v in resolve(arch, family, names) if v.kind == "matched"]
    for v in sorted(verdicts, key=lambda v: v.layer is not None):  # whole-model targets first
        for role in layout.get(v.name, ()):
            for label, d_in, d_out, copies in _role_shapes(arch, role):
                if v.labels is not None and label not in v.labels:
                    continue  # a dotted target: another block's module of that name
                if experts == "none" and (label.startswith("expert.") or label == "router"):
                    continue  # PEFT does not reach the fused experts or the router of this class
                if experts == "fused" and role in ("gate", "up", "down") and not label.startswith("expert."):
                    # PEFT's conversion turns the name into a target parameter of the 3-D experts, so the dense
                    # blocks' linears of that name get no adapter (measured with PEFT 0.21 on Qwen3-MoE with dense
                    # blocks: tests/params/test_params.py)
                    continue
                if label in seen:  # w1 and gate_proj name the same matrices; q_proj and self_attn.q_proj too
                    continue
                if v.layer is None:
                    seen.add(label)
                    out.append(LoraShape(v.target, label, d_in, d_out, copies))
                elif v.layer not in per_block.setdefault(label, set()):  # one block: copies / blocks of its kind
                    per_block[label].add(v.layer)
                    out.append(LoraShape(v.target, label, d_in, d_out, copies // blocks_of(arch, label)))
    if experts == "fused":
        gate = next((s for s in out if s.role == "expert.gate"), None)
        up = next((s for s in out if s.role == "expert.up"), None)
        if gate is not None and up is not None:  # one adapter of rank 2r on the fused [gate; up] stack per expert
            fused = LoraShape(gate.target, "expert.gate_up", gate.d_in, gate.d_out + up.d_out, gate.copies, 2)
            out = [fused if s is gate else s for s in out if s is not up]
    return out


def peft_experts(family: str | None) -> str:
    """How PEFT adapts this family's MoE experts (the registry's peft_experts): "fused", "none" or "separate"."""
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    return fam.peft_experts if fam is not None else "separate"


def module_names(arch: Architecture, family: str | None = None) -> list[str]:
    """Every LoRA target name that exists in this architecture of the family (block linears, routers, embeddings,
    the head) and PEFT can adapt (not Qwen2-MoE's router), aliases left out (the generic layout's transformers-4
    expert names w1/w2/w3)."""
    layout, experts = layout_for(family), peft_experts(family)
    return [n for n in distinct_names(layout) if adaptable(layout, experts, n)
            and any(_role_shapes(arch, role) for role in layout[n])]


def unmatched_names(arch: Architecture, targets, family: str | None = None) -> tuple[str, ...]:
    """The layout names (undotted) among ``targets`` whose matrices do not exist in this architecture."""
    layout = layout_for(family)
    return tuple(t for t in targets if not any(_role_shapes(arch, role) for role in layout.get(t, ())))


def unmatched_targets(arch: Architecture, targets, family: str | None = None) -> tuple[str, ...]:
    """The targets that adapt nothing (llmspec.estimate.lora_targets.resolve): those that select no module, and
    containers (PEFT raises on them: ARC005's error)."""
    if "all-linear" in targets:
        return ()
    from llmspec.estimate.lora_targets import resolve

    return tuple(v.target for v in resolve(arch, family, targets) if v.kind != "matched")


def count_params(arch: Architecture, training: Training | None = None, *,
                 family: str | None = None) -> ParamCount:
    """Exact parameter count of ``arch``; ``training`` decides what is trainable; ``family`` (HF model_type,
    spec.model.family) only matters for LoRA target names of families with fused projections."""
    if training is None or training.method not in ("lora", "qlora") or training.lora is None:
        return _count_params(arch, None, family)  # ~5 us: cheaper than a memo look-up and a copy
    key = arch_key(arch)
    key = key and (key, family, training.method, tuple(training.lora.targets), training.lora.rank)
    pc = memo("count_params").get(key, lambda: _count_params(arch, training, family))
    return replace(pc, breakdown=dict(pc.breakdown))  # ParamCount is mutable: each caller gets its own


def _count_params(arch: Architecture, training: Training | None, family: str | None) -> ParamCount:
    d, L, hd, V = arch.d_model, arch.n_layers, arch.head_size, arch.vocab_size
    q_out, kv_out = arch.n_heads * hd, arch.kv_heads * hd
    norm_w = NORM_WIDTH[arch.norm]

    # Attention: q, k, v (GQA: kv_heads * head_dim wide), o; optional biases; Qwen3's per-head q/k RMSNorm.
    attn = d * q_out + 2 * d * kv_out + q_out * d
    if arch.qkv_bias:
        attn += q_out + 2 * kv_out
    if arch.attn_out_bias:
        attn += d
    if arch.qk_norm:
        attn += 2 * hd  # Qwen3Attention q_norm / k_norm = RMSNorm(head_dim)

    breakdown: dict[str, int] = {"embeddings": V * d}
    if arch.position == "learned":
        breakdown["position_embeddings"] = (arch.learned_positions or arch.context_length) * d
    breakdown["attention"] = L * attn

    inactive = 0
    moe = arch.moe
    dense_layers, moe_layers = layer_split(arch)
    if dense_layers:  # dense blocks' MLPs are ffn_dim wide (Qwen2MoeMLP(config.intermediate_size))
        breakdown["mlp"] = dense_layers * _mlp(d, arch.ffn_dim, arch.gated, arch.mlp_bias)
    if moe is not None and moe_layers:
        f_e = moe.expert_ffn_dim or arch.ffn_dim
        expert = _mlp(d, f_e, arch.gated, arch.mlp_bias)
        breakdown["experts"] = moe_layers * moe.n_experts * expert
        breakdown["router"] = moe_layers * (d * moe.n_experts + (moe.n_experts if moe.router_bias else 0))
        if moe.shared_experts:
            f_s = moe.shared_expert_ffn_dim or f_e  # MoE.shared_expert_ffn_dim: "in total"
            shared = _mlp(d, f_s, arch.gated, arch.mlp_bias) + (d if moe.shared_expert_gate else 0)
            breakdown["shared_experts"] = moe_layers * shared
        inactive = moe_layers * (moe.n_experts - moe.experts_per_token) * expert

    breakdown["norms"] = L * arch.norms_per_layer * norm_w * d + (norm_w * d if arch.final_norm else 0)
    breakdown["head"] = 0 if arch.tie_embeddings else V * d
    total = sum(breakdown.values())

    lora = 0
    unmatched: tuple[str, ...] = ()
    trainable = total
    if training is not None and training.method in ("lora", "qlora") and training.lora is not None:
        targets = training.lora.targets
        lora = sum(s.params(training.lora.rank) for s in lora_shapes(arch, targets, family))
        unmatched = unmatched_targets(arch, targets, family)
        trainable = lora
    return ParamCount(total=total, active=total - inactive, trainable=trainable, breakdown=breakdown,
                      lora=lora, unmatched_targets=unmatched)


def _mlp(d: int, f: int, gated: bool, bias: bool) -> int:
    """Gated (gate, up: d->f; down: f->d) or plain (up: d->f, down: f->d) MLP, with optional biases."""
    if gated:
        return 3 * d * f + ((2 * f + d) if bias else 0)
    return 2 * d * f + ((f + d) if bias else 0)
