"""Byte tables: what each precision and optimizer keeps per parameter. Data, with sources.

Training precision semantics (per parameter, trainable unless said otherwise):

================  =========  ==========  ===========  ===========================================
precision         weights    gradients   opt. states  notes
================  =========  ==========  ===========  ===========================================
fp32              4          4           fp32         no casts
bf16-mixed        4          4           fp32         PyTorch AMP / Lightning: + 2 B autocast copy
fp16-mixed        4          4           fp32         of every matmul weight (cached for backward)
bf16 / fp16       2          2           16-bit       torch.optim keeps states in the param dtype;
                                                      master_weights_fp32: + 4 B master, fp32 states
fp8-mixed         4          4           fp32         Transformer Engine: + 1 B fp8 weight copy
================  =========  ==========  ===========  ===========================================

Sources: PyTorch AMP docs (torch.autocast caches casts of leaf fp32 weights for the autocast region);
Micikevicius et al. 2018 "Mixed Precision Training"; Rajbhandari et al. 2020 "ZeRO" section 3 (2+2+12 bytes
per parameter for fp16 mixed precision Adam); Dettmers et al. 2023 "QLoRA" (NF4 with double quantisation,
4.127 bits per parameter); Dettmers et al. 2022 "8-bit Optimizers via Block-wise Quantization".
"""

from __future__ import annotations

DTYPE_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5}

# NF4 with double quantisation (QLoRA section 3): 4 bits + fp32 absmax per 64-block quantised to 8 bits
# with an fp32 second-level constant per 256 blocks: 4 + 8/64 + 32/(64*256) = 4.127 bits per parameter.
# Without it (bitsandbytes compress_statistics=False, LitGPT "bnb.nf4"): 4 + 32/64 = 4.5 bits.
NF4_BYTES = (4 + 8 / 64 + 32 / (64 * 256)) / 8
NF4_BYTES_NO_DQ = (4 + 32 / 64) / 8


def nf4_bytes(double_quant: bool = True) -> float:
    """Bytes per NF4-quantised weight (lora.double_quant)."""
    return NF4_BYTES if double_quant else NF4_BYTES_NO_DQ

# Weight-only inference quantisation (GPTQ / AWQ style, group size 128: fp16 scale + packed zero point per
# group), applied to block linears; embeddings and head stay 16-bit. int8: LLM.int8()/per-channel fp16 scales.
INFERENCE_WEIGHT_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5}
INFERENCE_SCALE_BYTES = {"int4": (2 + 0.5) / 128, "int8": 0.0, "fp8": 0.0}  # per quantised weight
INT8_SCALE_PER_ROW = 2  # fp16 scale per output channel


def compute_dtype(precision: str) -> str:
    """The dtype matmuls run in for a training precision."""
    return {"fp32": "fp32", "bf16-mixed": "bf16", "fp16-mixed": "fp16", "bf16": "bf16", "fp16": "fp16",
            "fp8-mixed": "fp8"}[precision]


def is_amp(precision: str) -> bool:
    """fp32 master weights with lower-precision autocast compute."""
    return precision in ("bf16-mixed", "fp16-mixed", "fp8-mixed")


def activation_bytes(precision: str) -> int:
    """Bytes per element of activations saved for backward (fp8-mixed keeps bf16 activations, as TE does)."""
    return 4 if precision == "fp32" else 2


def trainable_weight_bytes(precision: str) -> int:
    return 2 if precision in ("bf16", "fp16") else 4


def grad_bytes(precision: str) -> int:
    return trainable_weight_bytes(precision)


def state_bytes(precision: str, master_weights_fp32: bool) -> int:
    """Bytes per optimizer-state element: the parameter dtype (torch.optim), fp32 with a master copy."""
    if precision in ("bf16", "fp16") and not master_weights_fp32:
        return 2
    return 4


def master_bytes(precision: str, master_weights_fp32: bool) -> int:
    """Extra fp32 master copy under pure 16-bit training (DeepSpeed / Megatron mixed-precision optimizer)."""
    return 4 if precision in ("bf16", "fp16") and master_weights_fp32 else 0


def cast_copy_bytes(precision: str) -> int:
    """Autocast copy of each fp32 matmul weight (2 B under bf16/fp16 AMP, 1 B fp8 under Transformer Engine)."""
    return {"bf16-mixed": 2, "fp16-mixed": 2, "fp8-mixed": 1}.get(precision, 0)


# Optimizer state elements per trainable parameter (multiply by state_bytes), except where noted.
#   adam/adamw: exp_avg + exp_avg_sq (Kingma & Ba 2015)          -> 2 states
#   lion: one momentum (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms") -> 1
#   sgd: momentum buffer only when momentum > 0                  -> 0 or 1
#   adafactor: factored second moment, row + column vectors per matrix, full for vectors, no first
#              moment (Shazeer & Stern 2018; Hugging Face Adafactor default beta1=None)
#   adamw_8bit: two 1-byte block-quantised states + fp32 absmax per 2048-block (bitsandbytes); tensors
#               under 4096 elements keep 32-bit states (bitsandbytes min_8bit_size)
ADAM_STATES = 2
BNB_BLOCK = 2048
BNB_MIN_8BIT_SIZE = 4096


def optimizer_state_bytes(optimizer: str, momentum: float, sbytes: int, matrices, vectors: int) -> float:
    """Optimizer state bytes for the trainable tensors: ``matrices`` is an iterable of (rows, cols, copies)
    and ``vectors`` counts trainable 1-D parameters."""
    mats = list(matrices)
    n_mat = sum(r * c * k for r, c, k in mats)
    n = n_mat + vectors
    if optimizer in ("adam", "adamw"):
        return ADAM_STATES * sbytes * n
    if optimizer == "lion":
        return sbytes * n
    if optimizer == "sgd":
        return sbytes * n if momentum > 0 else 0
    if optimizer == "adafactor":
        return 4 * (sum((r + c) * k for r, c, k in mats) + vectors)
    if optimizer == "adamw_8bit":
        big = sum(r * c * k for r, c, k in mats if r * c >= BNB_MIN_8BIT_SIZE)
        small = n - big
        return big * (2 + 2 * 4 / BNB_BLOCK) + small * ADAM_STATES * 4
    raise ValueError(f"unknown optimizer {optimizer!r}")


def optimizer_temp_bytes(optimizer: str, sbytes: int, n_trainable: int, largest: int) -> float:
    """Transient buffers of one optimizer.step(). torch's foreach Adam (the CUDA default) materialises
    sqrt(exp_avg_sq) for the whole parameter group (torch/optim/adam.py, _multi_tensor_adam). Hugging Face
    Adafactor builds two fp32 buffers of the tensor it updates (transformers/optimization.py, measured);
    lion-pytorch one (its sign() update). SGD updates in place; bitsandbytes' 8-bit kernels are fused.
    ``largest`` is the element count of the largest trainable tensor."""
    if optimizer in ("adam", "adamw"):
        return sbytes * n_trainable
    if optimizer == "adafactor":
        return 2 * 4 * largest
    if optimizer == "lion":
        return sbytes * largest
    return 0


def gathered_bytes(method: str, precision: str, base_dtype: str | None, double_quant: bool = True) -> float:
    """Bytes per parameter of a layer all-gathered by ZeRO-3 / FSDP: the stored dtype. QLoRA gathers the packed
    NF4 data and dequantises per matmul (bitsandbytes Params4bit under FSDP, Answer.AI FSDP-QLoRA); LoRA the frozen
    base dtype (16-bit unless fp32); full training the compute dtype (FSDP MixedPrecision param_dtype)."""
    if method == "qlora":
        return nf4_bytes(double_quant)
    if method == "lora":
        return DTYPE_BYTES[base_dtype] if base_dtype else (4 if precision == "fp32" else 2)
    return DTYPE_BYTES[compute_dtype(precision)]
