"""training_static reads no batch-shape key, so `sweep plan` may share it between points (llmspec.sweep.fast).

The guard is real: the batch keys are set to None on a copy that skips validation, so any arithmetic on them in
training_static raises. Specs are random combinations of the memory knobs over every registry preset.
"""

from __future__ import annotations

import random

import pytest

from llmspec.estimate.training import BATCH_KEYS, training_memory, training_static
from llmspec.spec.loader import load_spec
from llmspec.spec.models import Spec
from llmspec.sweep.fast import with_overrides

PRESETS = ["Llama-3-8B", "Mistral-7B", "Mixtral-8x7B", "Qwen2.5-0.5B", "Qwen3-8B", "Qwen3-30B-A3B",
           "Qwen1.5-MoE-A2.7B", "Gemma-7B", "Gemma-2-9B", "Phi-3-mini-4k", "GPT-2", "Pythia-1.4B", "Falcon-7B",
           "OPT-1.3B", "OLMo-1B"]
KNOBS = {
    "training.method": ["full", "lora", "qlora"],
    "training.precision": ["bf16-mixed", "bf16", "fp32"],
    "training.activation_checkpointing": [True, False],
    "training.attention": ["sdpa", "eager"],
    "training.optimizer_impl": ["fused", "foreach", "for-loop"],
    "training.optimizer_in_backward": [True, False],
    "training.loss": ["full", "chunked", "fused-linear"],
    "training.compile": [True, False],
    "training.activation_offload": [True, False],
    "training.sync_each_batch": [True, False],
    "training.stack": ["hf-trainer", "torchtune", "litgpt"],
    "training.lora.dtype": ["fp32", "bf16"],
    "training.lora.dora": [True, False],
    "training.lora.targets": [["all-linear"], ["q_proj", "v_proj", "lm_head"]],
    "training.lora.quantize": ["all-linear", "adapted", "every-linear"],
    "training.lora.quant_saves_input": [True, False],
    "hardware.count": [1, 8],
    "hardware.sharding": ["none", "zero3", "fsdp"],
    "hardware.offload": ["none", "optimizer+params"],
    "hardware.tensor_parallel": [1, 2],
}
BATCH = {"training.micro_batch_size": [1, 3, 8], "training.seq_len": [256, 777, 4096],
         "training.gradient_accumulation": [1, 4]}


def _specs(tmp_path, n: int, seed: int):
    rng = random.Random(seed)
    for i in range(n):
        path = tmp_path / f"s{i}.toml"
        path.write_text(f'extends = "preset:{rng.choice(PRESETS)}"\n[training]\nmethod = "lora"\n'
                        '[hardware]\naccelerator = "H100-SXM"\n', encoding="utf-8")
        base = load_spec(path)
        doc = base.source.raw
        point = {k: rng.choice(v) for k, v in rng.sample(sorted(KNOBS.items()), 6)}
        batches = [{k: rng.choice(v) for k, v in BATCH.items()} for _ in range(2)]
        specs = []
        for batch in batches:
            spec = Spec.model_validate(with_overrides(doc, {**point, **batch}))
            spec._source = base.source
            specs.append(spec)
        yield point, specs


@pytest.mark.parametrize("seed", [1, 2])
def test_training_static_reads_no_batch_key(tmp_path, seed):
    for point, (spec, _) in _specs(tmp_path, 40, seed):
        blind = spec.training.model_copy(update=dict.fromkeys(BATCH_KEYS))  # None: any use raises
        assert training_static(spec.model_copy(update={"training": blind})) == training_static(spec), point


@pytest.mark.parametrize("seed", [3, 4])
def test_a_shared_static_part_gives_the_same_estimate(tmp_path, seed):
    for point, (a, b) in _specs(tmp_path, 40, seed):
        shared = training_static(a)  # computed for a's batch shape, used for b's
        assert training_memory(b, shared) == training_memory(b), point
        assert training_memory(a, shared) == training_memory(a), point


def test_the_guard_catches_a_read(tmp_path):
    """The guard above can fail: a static part that read seq_len would raise on the blinded copy."""
    (_, (spec, _)), = list(_specs(tmp_path, 1, 5))
    blind = spec.model_copy(update={"training": spec.training.model_copy(update=dict.fromkeys(BATCH_KEYS))})
    with pytest.raises(TypeError):
        training_memory(blind)
