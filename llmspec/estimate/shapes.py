"""The weight matrices of a decoder-only transformer, as (name, rows, cols, copies) shapes.

Memory estimates need more than a parameter total: which weights are block linears (quantised by NF4,
targeted by LoRA, factored by Adafactor, cast by autocast) and which are embeddings, norms and biases.
Shapes follow the Hugging Face implementations (LlamaForCausalLM and relatives; Mixtral / Qwen2-MoE for
experts); the totals agree with ``llmspec.estimate.params.count_params`` for the standard families.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmspec.estimate.params import arch_key, layer_split, memo
from llmspec.spec.models import Architecture

# peft's "all-linear" targets every block linear (not lm_head).
ATTN_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_LINEARS = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Matrix:
    name: str  # Hugging Face module name (q_proj, ..., experts.gate_proj, embed_tokens, lm_head)
    rows: int  # in_features (or vocabulary rows for embeddings)
    cols: int  # out_features (or d_model for embeddings)
    copies: int  # how many of them in the whole model (n_layers, n_layers * n_experts, 1)
    kind: str  # "attention" | "mlp" | "router" | "embedding" | "head"

    @property
    def numel(self) -> int:
        return self.rows * self.cols * self.copies


@dataclass(frozen=True)
class Layout:
    """Every parameter of the model, grouped the way memory estimates need them."""

    matrices: tuple[Matrix, ...]
    vectors: int  # norms, biases and other 1-D parameters, in total
    layer_params: int  # parameters of one block (largest, for FSDP gather and QLoRA dequant)

    @property
    def block_linears(self) -> tuple[Matrix, ...]:
        return tuple(m for m in self.matrices if m.kind in ("attention", "mlp", "router"))

    @property
    def linear_numel(self) -> int:
        """Weights of every matmul: block linears and the output head (tied or not)."""
        return sum(m.numel for m in self.matrices if m.kind != "embedding")

    @property
    def block_linear_numel(self) -> int:
        return sum(m.numel for m in self.block_linears)

    @property
    def embedding_numel(self) -> int:
        return sum(m.numel for m in self.matrices if m.kind == "embedding")

    @property
    def head_numel(self) -> int:
        return sum(m.numel for m in self.matrices if m.kind == "head")

    def total(self, tied: bool) -> int:
        """All distinct parameters (a tied head is counted once, with the embedding)."""
        head = self.head_numel if not tied else 0
        return self.block_linear_numel + self.embedding_numel + head + self.vectors


def layout(arch: Architecture) -> Layout:
    # memoised on every field value of arch (lint follow-up: "what would fit" re-estimates one architecture
    # dozens of times); Layout is frozen, so sharing it is safe
    return memo("layout").get(arch_key(arch), lambda: _layout(arch))


def _layout(arch: Architecture) -> Layout:
    d, hd, L = arch.d_model, arch.head_size, arch.n_layers
    q_out, kv_out = arch.n_heads * hd, arch.kv_heads * hd
    mats = [
        Matrix("q_proj", d, q_out, L, "attention"),
        Matrix("k_proj", d, kv_out, L, "attention"),
        Matrix("v_proj", d, kv_out, L, "attention"),
        Matrix("o_proj", q_out, d, L, "attention"),
    ]
    vec_layer = 0
    if arch.qkv_bias:
        vec_layer += q_out + 2 * kv_out
    if arch.attn_out_bias:
        vec_layer += d
    moe = arch.moe
    ffn_names = MLP_LINEARS if arch.gated else ("up_proj", "down_proj")
    n_dense, n_moe = layer_split(arch)  # MoE.dense_layers blocks keep a dense MLP of ffn_dim
    vec_dense = vec_moe = 0  # per-block 1-D parameters of the MLP, by kind of block
    if n_dense:
        f = arch.ffn_dim
        for name in ffn_names:
            rows, cols = (f, d) if name == "down_proj" else (d, f)
            mats.append(Matrix(name, rows, cols, n_dense, "mlp"))
        if arch.mlp_bias:
            vec_dense = (len(ffn_names) - 1) * f + d
    if moe is not None and n_moe:  # n_moe > 0 only with arch.moe set (layer_split)
        f = moe.expert_ffn_dim or arch.ffn_dim
        mats.append(Matrix("router", d, moe.n_experts, n_moe, "router"))
        if moe.router_bias:
            vec_moe += moe.n_experts
        for name in ffn_names:
            rows, cols = (f, d) if name == "down_proj" else (d, f)
            mats.append(Matrix("experts." + name, rows, cols, n_moe * moe.n_experts, "mlp"))
        if moe.shared_experts:
            fs = moe.shared_expert_ffn_dim or f
            for name in ffn_names:
                rows, cols = (fs, d) if name == "down_proj" else (d, fs)
                mats.append(Matrix("shared_expert." + name, rows, cols, n_moe, "mlp"))
            if moe.shared_expert_gate:
                mats.append(Matrix("shared_expert_gate", d, 1, n_moe, "router"))
    norm_width = {"rmsnorm": 1, "layernorm": 2, "layernorm_nobias": 1, "nonparametric": 0}[arch.norm]
    vec_layer += arch.norms_per_layer * norm_width * d
    if arch.qk_norm:
        vec_layer += 2 * hd
    vectors = L * vec_layer + n_dense * vec_dense + n_moe * vec_moe + (norm_width * d if arch.final_norm else 0)
    mats.append(Matrix("embed_tokens", arch.vocab_size, d, 1, "embedding"))
    if arch.position == "learned":
        mats.append(Matrix("embed_positions", arch.learned_positions or arch.context_length, d, 1, "embedding"))
    mats.append(Matrix("lm_head", d, arch.vocab_size, 1, "head"))
    # the largest single block (FSDP gathers whole blocks): attention + its MLP, dense or MoE
    attn = sum(m.rows * m.cols for m in mats if m.kind == "attention") + vec_layer
    mlp = {"dense": 0, "moe": 0}
    for m in mats:
        if m.kind in ("mlp", "router"):
            kind = "dense" if m.name in MLP_LINEARS else "moe"
            mlp[kind] += m.numel // (n_dense if kind == "dense" else n_moe)
    layer_params = attn + max(mlp["dense"] + vec_dense if n_dense else 0, mlp["moe"] + vec_moe if n_moe else 0)
    return Layout(tuple(mats), vectors, layer_params)
