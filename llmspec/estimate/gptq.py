"""What an AutoGPTQ kernel adds to int4-groups weights at inference (inference.quant_kernel, issue 12).

Derived from auto-gptq==0.5.0 (the release optimum's GPTQ benchmark and transformers' GPTQ integration load at
optimum@87fcf9f0; the wheel's Python sources):

* every QuantLinear (auto_gptq/nn_modules/qlinear/qlinear_{exllama,exllamav2,cuda_old,triton}.py:QuantLinear.__init__)
  registers ``qweight`` int32 (in // 32 * bits, out), ``qzeros`` int32 (ceil(in / g), out // 32 * bits), ``scales``
  fp16 (ceil(in / g), out) and ``g_idx`` int32 (in,): at 4 bits in * out / 2 + in * out / (2g) + 2 in * out / g + 4 in
  bytes. The first three are weight_bytes' 0.5 B per weight + INFERENCE_SCALE_BYTES' 2.5 / 128 per weight (at
  g = 128); g_idx is the kernel's own (``gidx_bytes``), kept whether or not the checkpoint used act-order.
* exllama (v1): auto_gptq/modeling/_utils.py:autogptq_post_init allocates per device ``temp_dq`` fp16 (1,
  max(qweight.numel() * 8)) = 2 x the largest linear's in * out bytes, and ``temp_state`` fp16 (max_input_len,
  max_inner_outer_dim): (1, 1) without act-order (max_input_len = 1), with act-order (2048 =
  modeling/_const.py:EXLLAMA_DEFAULT_MAX_INPUT_LENGTH, max(in, out) of the largest). Both persist
  (``model.device_to_buffers``).
* exllamav2: autogptq_post_init takes the largest ``QuantLinear.scratch_space_fixed()`` per device
  (qlinear_exllamav2.py: temp_dq_size = in * out * 2 + 128, temp_fwd_size(max_input_len=2048, max_batch_size=8) =
  out * 2048 * 8 * 4 + 128) and ExLlamaV2DeviceTensors.prepare allocates it as one torch.empty of scratch_bytes // 2
  halves, kept in ``model.device_tensors``. With act-order, ext_make_q_matrix adds ``q_perm`` and ``q_invperm``
  (int16, qweight.shape[0] * 8 = in elements each) per linear: 4 B per input feature.
* cuda-old: no buffer; QuantLinear.forward dequantises the whole weight when the input has at least
  kernel_switch_threshold = 128 rows (a prefill): torch.bitwise_right_shift of the int32 qweight expanded 8 ways
  (4 B per weight) still referenced while its ``.to(torch.int8)`` (1 B) is made: 5 B per weight of the largest linear
  at that moment; later steps (bitwise_and, the zero point subtraction, the fp16 product) hold at most 4 B per weight.
* triton: no buffer beyond g_idx (qlinear_triton.py's forward calls the Triton matmul kernel on the packed weight).

What is not counted: the C++ extensions' own cudaMalloc (exllama's CudaBuffers, cuBLAS handles): outside torch's
allocator, part of what nvidia-smi adds (llmspec.estimate.counters).
"""

from __future__ import annotations

from llmspec.estimate.shapes import layout

EXLLAMA_DEFAULT_MAX_INPUT_LENGTH = 2048  # auto-gptq==0.5.0:auto_gptq/modeling/_const.py
EXLLAMAV2_MAX_INPUT_LEN = 2048  # auto-gptq==0.5.0:auto_gptq/nn_modules/qlinear/qlinear_exllamav2.py:scratch_space_fixed
EXLLAMAV2_MAX_BATCH = 8
CUDA_OLD_SWITCH = 128  # auto-gptq==0.5.0:auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py:QuantLinear kernel_switch_threshold


def gidx_bytes(arch, tp: int = 1) -> float:
    """The int32 g_idx of every quantised block linear: 4 B per input feature (QuantLinear.__init__)."""
    return sum(4 * m.rows * m.copies for m in layout(arch).block_linears) / tp


def kernel_parts(arch, kernel: str, act_order: bool, tp: int = 1) -> dict[str, float]:
    """Persistent bytes per GPU an AutoGPTQ kernel adds: ``gptq_g_idx`` (every kernel) and ``gptq_kernel_buffers``
    (exllama, exllamav2 scratch). {} for "none". Under tensor parallelism each linear is split ``tp`` ways (its
    largest share sizes the buffers). cuda-old's prefill transient: prefill_transient."""
    if kernel == "none":
        return {}
    mats = [m for m in layout(arch).block_linears]
    largest = max(m.rows * m.cols for m in mats) / tp
    parts: dict[str, float] = {"gptq_g_idx": gidx_bytes(arch, tp)}
    if kernel == "exllama":
        dim = max(max(m.rows, m.cols) for m in mats)
        state = (EXLLAMA_DEFAULT_MAX_INPUT_LENGTH if act_order else 1) * (dim if act_order else 1) * 2
        parts["gptq_kernel_buffers"] = 2 * largest + state
    elif kernel == "exllamav2":
        scratch = max(m.rows * m.cols / tp * 2 + 128 + m.cols / tp * EXLLAMAV2_MAX_INPUT_LEN * EXLLAMAV2_MAX_BATCH * 4
                      + 128 for m in mats)
        parts["gptq_kernel_buffers"] = scratch
        if act_order:
            parts["gptq_g_idx"] += sum(4 * m.rows * m.copies for m in mats) / tp
    return parts


def prefill_transient(arch, kernel: str, prefill_rows: int, tp: int = 1) -> float:
    """cuda-old's dequantised weight in a prefill of ``prefill_rows`` >= 128 rows (batch x prompt): 5 B per weight of
    the largest linear (module docstring); 0 otherwise (decode steps run the fused kernel below the threshold)."""
    if kernel != "cuda-old" or prefill_rows < CUDA_OLD_SWITCH:
        return 0.0
    return 5 * max(m.rows * m.cols for m in layout(arch).block_linears) / tp


def notes(kernel: str, act_order: bool, parts: dict[str, float], transient: float = 0.0) -> list[str]:
    if kernel == "none":
        return []
    gib = 2**30
    out = [f"AutoGPTQ {kernel} kernel (auto-gptq 0.5.0): int32 g_idx per input feature "
           f"{parts['gptq_g_idx'] / gib:.3f} GiB" + (" (with act-order's q_perm / q_invperm)"
                                                      if act_order and kernel == "exllamav2" else "")]
    if "gptq_kernel_buffers" in parts:
        what = {"exllama": "temp_dq of the largest linear" + (" + temp_state of 2048 rows" if act_order else ""),
                "exllamav2": "scratch: the largest linear's dequantised weight + 2048 x 8 output rows"}[kernel]
        out.append(f"{kernel} persistent {what}: {parts['gptq_kernel_buffers'] / gib:.2f} GiB")
    if transient:
        out.append(f"cuda-old prefill (>= {CUDA_OLD_SWITCH} rows) dequantises each weight: "
                   f"{transient / gib:.2f} GiB at the largest linear (in the prefill activations)")
    return out
