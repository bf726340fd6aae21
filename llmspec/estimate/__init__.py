"""Estimators: pure functions of the spec (no torch, transformers or lm_eval imports, not even indirectly)."""

from llmspec.estimate.bundle import Estimate, estimate
from llmspec.estimate.compute import Compute, compute
from llmspec.estimate.fit import Fix, what_would_fit
from llmspec.estimate.inference import inference_memory
from llmspec.estimate.params import ParamCount, count_params, lora_shapes
from llmspec.estimate.result import MemoryEstimate
from llmspec.estimate.training import training_memory

__all__ = ["ParamCount", "count_params", "lora_shapes",
           "Estimate", "estimate", "Compute", "compute", "Fix", "what_would_fit",
           "MemoryEstimate", "training_memory", "inference_memory"]
