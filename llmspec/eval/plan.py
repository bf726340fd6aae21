"""How an eval runs: device, dtype, batch size and the lm-eval engine, chosen from [eval], [inference] and
[hardware]. Pure Python (no torch): device probing is passed in, so ``--dry-run`` plans are testable anywhere.

Engines are lm-eval's own (lm-eval 0.4.13, lm_eval/models/huggingface.py and vllm_causallms.py):

- ``hf``: one process, one device; ``HFLM(pretrained=..., device=..., dtype=..., batch_size=...)``;
- ``hf-parallelize``: one process, the model split naively over the node's GPUs (``parallelize=True``,
  accelerate's device_map="auto"), for a model whose weights do not fit one GPU;
- ``accelerate``: data parallel, one replica per GPU: ``accelerate launch -m lm_eval --model hf ...``;
- ``vllm``: ``tensor_parallel_size`` x ``data_parallel_size`` (data parallel through ray).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

# [inference].precision -> torch dtype name accepted by HFLM/vLLM. fp8/int8/int4 are serving quantisations
# that lm-eval's hf backend does not apply from a dtype; they evaluate in bf16 (recorded in the plan notes).
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "fp8": "bfloat16", "int8": "bfloat16",
          "int4": "bfloat16"}
BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "auto": 2}
FIT_FRACTION = 0.9  # weights must leave ~10% of a GPU for activations, KV cache and the CUDA context


@dataclass
class Plan:
    kind: str  # "hf" | "hf-parallelize" | "accelerate" | "vllm"
    device: str  # "cpu" | "cuda" | "mps"
    dtype: str
    batch_size: Any
    model_args: dict[str, Any]
    data_parallel: int = 1
    tensor_parallel: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def in_process(self) -> bool:
        """Whether llmspec drives lm-eval's Python API itself (else it prints/runs a launcher command)."""
        return self.kind != "accelerate"

    def answer_identity(self) -> tuple:
        """Everything of the plan that can change lm-eval's answers to the same requests: engine, device, dtype,
        batch size (padding in a batch changes the logits) and the model arguments. The model and adapter files
        are not here: they are keyed by their content hash, not their path."""
        args = sorted((k, repr(v)) for k, v in self.model_args.items() if k not in ("pretrained", "peft"))
        return self.kind, self.device, self.dtype, repr(self.batch_size), tuple(args)

    @property
    def gpus(self) -> int:
        return 0 if self.device != "cuda" else max(1, self.data_parallel * self.tensor_parallel)

    def model_args_string(self) -> str:
        """lm-eval's ``--model_args`` form: ``k=v,k=v`` (values without commas). ``device`` goes through
        ``--device`` instead: lm-eval passes both to the constructor, and a duplicate is a TypeError."""
        return ",".join(f"{k}={_arg(v)}" for k, v in self.model_args.items() if k != "device")

    def command(self, tasks: list[str], include_paths: list[str], output: str, *, limit: int | None = None,
                num_fewshot: int | None = None, seed: int = 1234, chat_template: bool = False) -> list[str]:
        """The equivalent lm-eval command line (what ``--dry-run`` prints for launcher plans)."""
        model = "vllm" if self.kind == "vllm" else "hf"
        cmd = ["lm_eval", "run"] if self.kind != "accelerate" else [
            "accelerate", "launch", "--multi_gpu", "--num_processes", str(self.data_parallel), "-m", "lm_eval", "run"]
        cmd += ["--model", model, "--model_args", self.model_args_string(), "--tasks", ",".join(tasks)]
        for p in include_paths:
            cmd += ["--include_path", p]
        cmd += ["--batch_size", str(self.batch_size), "--output_path", output, "--log_samples", "--seed", str(seed)]
        if self.kind in ("hf", "hf-parallelize"):
            cmd += ["--device", self.device if self.kind == "hf" else "cuda"]
        if limit is not None:
            cmd += ["--limit", str(limit)]
        if num_fewshot is not None:
            cmd += ["--num_fewshot", str(num_fewshot)]
        if chat_template:
            cmd += ["--apply_chat_template"]
        return cmd

    def python_call(self) -> str:
        """The in-process construction llmspec performs (what ``--dry-run`` prints for in-process plans)."""
        cls = "lm_eval.models.vllm_causallms.VLLM" if self.kind == "vllm" else "lm_eval.models.huggingface.HFLM"
        args = ", ".join(f"{k}={v!r}" for k, v in self.model_args.items())
        return f"{cls}({args})"


def _arg(v: Any) -> str:
    return ("True" if v else "False") if isinstance(v, bool) else str(v)


def weights_bytes(spec, dtype: str) -> int | None:
    """Bytes of the weights at ``dtype``: exact parameter count from the architecture (llmspec.estimate)."""
    if spec.model.architecture is None:
        return None
    from llmspec.estimate import count_params

    return count_params(spec.model.architecture).total * BYTES.get(dtype, 2)


def make_plan(spec, model: str, *, device: str = "auto", probe=None, adapter: str | None = None,
              trust_remote_code: bool = False, gpu_memory: int | None = None) -> Plan:
    """Choose the engine for ``spec``. ``probe()`` returns the local device ("cuda" | "mps" | "cpu") for
    device="auto"; ``gpu_memory`` is one GPU's bytes (from the catalog, or [hardware].memory)."""
    ev, hw, inf = spec.eval, spec.hardware, spec.inference
    want = device if device != "auto" else (ev.device if ev and ev.device != "auto" else "auto")
    dtype = DTYPES[inf.precision] if inf is not None else "auto"
    notes: list[str] = []
    if inf is not None and inf.precision in ("fp8", "int8", "int4"):
        notes.append(f"[inference].precision = {inf.precision!r}: lm-eval's hf backend evaluates the unquantised "
                     f"weights; using {dtype}")
    tp = (ev.tensor_parallel if ev and ev.tensor_parallel else None) or (hw.tensor_parallel if hw else 1)
    world = hw.world_size if hw else 1
    dp = (ev.data_parallel if ev and ev.data_parallel else None) or max(1, world // tp)
    backend = ev.backend if ev else "hf"
    multi = dp * tp > 1 or backend == "vllm"
    if want == "auto":
        want = "cuda" if multi else (probe() if probe else "cpu")
    if want != "cuda":
        dp, tp = 1, 1
        if backend == "vllm":
            notes.append("vllm needs CUDA GPUs; using the hf backend on " + want)
            backend = "hf"
        if want == "cpu" and dtype in ("bfloat16", "float16"):
            notes.append(f"{dtype} on the CPU is slow and, for fp16, inexact; consider [inference].precision = "
                         f"\"fp32\" for CPU runs")
    batch = ev.batch_size if ev and ev.batch_size is not None else ("auto" if want == "cuda" else 1)
    seed = ev.seed if ev else 1234
    if backend == "vllm":
        args: dict[str, Any] = {"pretrained": model, "dtype": dtype, "tensor_parallel_size": tp,
                                "data_parallel_size": dp, "seed": seed}
        if adapter:
            args["lora_local_path"] = adapter
        if trust_remote_code:
            args["trust_remote_code"] = True
        return Plan("vllm", "cuda", dtype, batch, args, dp, tp, notes)
    args = {"pretrained": model, "dtype": dtype}
    if adapter:
        args["peft"] = adapter
    if trust_remote_code:
        args["trust_remote_code"] = True
    kind = "hf"
    size = weights_bytes(spec, dtype if dtype != "auto" else "bfloat16")
    if want == "cuda" and size and gpu_memory and size > FIT_FRACTION * gpu_memory:
        kind = "hf-parallelize"
        args["parallelize"] = True
        per_gpu = int(gpu_memory * FIT_FRACTION) // 2**30
        args["max_memory_per_gpu"] = f"{per_gpu}GiB"
        notes.append(f"weights ({size / 2**30:.1f} GiB at {dtype}) exceed {FIT_FRACTION:.0%} of one GPU "
                     f"({gpu_memory / 2**30:.0f} GiB): split over the node's GPUs with parallelize=True")
        dp = max(1, dp // max(1, hw.count if hw else 1))
        tp = hw.count if hw else 1
    elif dp > 1 and want == "cuda":
        kind = "accelerate"
    if kind == "hf":
        args["device"] = want
        tp = 1
    if tp > 1 and kind == "accelerate":
        notes.append(f"tensor_parallel = {tp} needs the vllm backend; the hf backend runs {dp} data-parallel "
                     f"replicas")
        tp = 1
    return Plan(kind, want, dtype, batch, args, dp, tp, notes)


def describe(plan: Plan, tasks: list[str], include_paths: list[str], output: str, *, builtins: bool = False,
             **kw) -> str:
    """Human-readable plan for ``--dry-run``: the engine, then the exact call or command."""
    lines = [f"plan: {plan.kind} on {plan.device} ({plan.gpus or 'no'} GPU{'s' if plan.gpus != 1 else ''}), "
             f"dtype {plan.dtype}, batch size {plan.batch_size}"]
    lines += [f"note: {n}" for n in plan.notes]
    if plan.kind == "accelerate":
        lines.append("command: " + shlex.join(plan.command(tasks, include_paths, output, **kw)))
    else:
        lines.append("python: lm = " + plan.python_call())
        lines.append(f"        lm_eval.simple_evaluate(model=lm, tasks={tasks!r}, task_manager=TaskManager("
                     f"include_path={include_paths!r}, include_defaults={builtins}), log_samples=True, ...)")
        lines.append("equivalent command: " + shlex.join(plan.command(tasks, include_paths, output, **kw)))
    return "\n".join(lines)
