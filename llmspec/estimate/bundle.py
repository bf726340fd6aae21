"""``estimate(spec)``: every estimator in one result, with the stable, versioned JSON contract.

JSON contract (``Estimate.to_dict()``, ``llmspec estimate --format json``), schema_version 1:

    schema_version                    1
    spec                              path of the spec file, or null
    params.{total,active,trainable,lora,breakdown}
    memory.training                   null without [training]; else per_gpu_bytes, overhead_bytes,
                                      total_bytes, capacity_bytes, fits, peak_phase, phases, breakdown,
                                      accelerator, assumptions
    memory.inference                  same keys (peak_phase "prefill"); "assumed": true when the spec has no
                                      [inference] table (serving defaults)
    memory.*.accelerator_note         how the accelerator was picked (alias, default) or ""
    memory.inference.concurrency      paged engines (vllm, tgi, trtllm): {max_concurrent, requested, queued,
                                      tokens_per_sequence, max_model_len, pool_bytes, max_num_seqs}; else null
    compute                           flops_per_token, model_flops_per_token, tokens, tokens_per_step, steps,
                                      total_flops, peak_tflops, wall_hours, gpu_hours, cost,
                                      decode_tokens_per_s, prefill_tokens_per_s, assumptions
    fits                              list of {mode, description, overrides, set, cost, impact,
                                      per_gpu_bytes, total_bytes, capacity_bytes}
    measured                          present only with --measure

Bytes are integers; keys are only ever added within a schema_version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmspec.estimate.compute import Compute, compute
from llmspec.estimate.fit import Fix, what_would_fit
from llmspec.estimate.inference import inference_memory
from llmspec.estimate.params import ParamCount, count_params
from llmspec.estimate.result import MemoryEstimate
from llmspec.estimate.training import training_memory
from llmspec.spec.models import Spec

SCHEMA_VERSION = 1


@dataclass
class Estimate:
    params: ParamCount
    training: MemoryEstimate | None
    inference: MemoryEstimate | None
    compute: Compute
    fits: list[Fix]
    spec_path: str | None = None
    measured: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        p = self.params
        out = {
            "schema_version": SCHEMA_VERSION,
            "spec": self.spec_path,
            "params": {"total": p.total, "active": p.active, "trainable": p.trainable, "lora": p.lora,
                       "breakdown": dict(p.breakdown)},
            "memory": {
                "training": self.training.to_dict() if self.training else None,
                "inference": self.inference.to_dict() if self.inference else None,
            },
            "compute": self.compute.to_dict(),
            "fits": [f.to_dict() for f in self.fits],
        }
        if self.measured:
            out["measured"] = self.measured
        return out


def estimate(spec: Spec) -> Estimate:
    """Parameters, training and inference memory, compute and fixes for ``spec``. Pure Python, no torch.

    Training memory is estimated when the spec has a [training] table; inference memory always (serving
    defaults without an [inference] table: bf16, batch 1, the full context). Fixes are searched for the
    training set-up and for an [inference] table the spec declares."""
    path = getattr(spec.source, "path", None) if spec.source is not None else None
    inference = inference_memory(spec)
    if spec.inference is None:
        inference.assumed = True
        inference.assumptions.insert(0, "no [inference] table: assumed serving defaults (bf16, batch 1, the full "
                                        "context); add [inference] to estimate your serving set-up")
    # the parameters as the memory counts them: the model the stack trains (LitGPT: its own untied lm_head, even for a
    # checkpoint that ties it; llmspec.estimate.stack.trained_spec), else the model the engine serves
    from llmspec.estimate.stack import served_spec, trained_spec

    counted = trained_spec(spec) if spec.training is not None else served_spec(spec)
    return Estimate(
        params=count_params(counted.arch, spec.training, family=spec.model.family),
        training=training_memory(spec) if spec.training is not None else None,
        inference=inference,
        compute=compute(spec),
        fits=what_would_fit(spec),
        spec_path=str(path) if path is not None else None,
    )
