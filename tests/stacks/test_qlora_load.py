"""QLoRA's load phase under torchao NF4 (lora.quant_chunk; the torchtune QLoRA tutorial's figure), through the real
loader and CLI.

torchtune builds NF4 weights with torchao's to_nf4 and re-quantises every loaded checkpoint tensor on the GPU. torchao
0.1 (pinned by torchtune at the tutorial's commit, 0914d5cfb) quantises each weight in one piece: 68 bytes per element
of the weight beside the weights at rest (measured on torchao v0.1's nf4tensor.py with llmspec's storage tracker on
CPU: 68.08); torchao >= 0.2 quantises 1,048,576 elements at a time (CHUNK_SIZE): 5 bytes per element + 64 per chunk
element.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from llmspec.cli import cli
from llmspec.estimate import training_memory
from tests.conftest import LLAMA2_7B_MODEL

SPEC = LLAMA2_7B_MODEL + """
[training]
stack = "torchtune"
method = "qlora"
micro_batch_size = 2
seq_len = 512
activation_checkpointing = true

[training.lora]
rank = 8
alpha = 16
targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

[hardware]
accelerator = "A100-80GB"
"""
MLP = 4096 * 11008  # the largest 4-bit weight


@pytest.fixture
def load(load_text):
    return lambda *overrides: load_text(SPEC, *overrides)


def test_torchao_0_1_quantises_whole_weights_and_the_load_sets_the_peak(load):
    whole = training_memory(load("training.lora.quant_chunk=0"))
    assert whole.peak_phase == "load"
    assert whole.breakdown["load_quantisation"] == 68 * MLP
    chunked = training_memory(load())
    # the weights at rest are the same; only the transient differs
    assert whole.breakdown["weights"] == pytest.approx(whole.per_gpu_bytes - 68 * MLP, abs=1)
    assert chunked.phases["load"] == pytest.approx(whole.breakdown["weights"] + 5 * MLP + 64 * 1024**2, abs=2)
    # with 1M-element chunks the training step, not the load, is the peak
    assert chunked.peak_phase != "load"
    assert whole.per_gpu_bytes > 1.3 * chunked.per_gpu_bytes
    assert any("each weight in one piece (torchao 0.1)" in a for a in whole.assumptions)


def test_the_chunk_is_torchtunes_default_and_bitsandbytes_stacks_have_no_load_phase(load):
    tt = load()
    assert tt.training.lora.quant_chunk == 1024**2
    assert "qlora_quant_chunk" in tt.training.stack_sources()
    hf = training_memory(load("training.stack=hf-trainer"))
    assert "load" not in hf.phases
    lora = training_memory(load("training.method=lora"))
    assert "load" not in lora.phases


def test_only_the_linears_the_builder_quantises_are_quantised_at_load(load):
    # torchtune's Qwen2 builders quantise only linears that carry an adapter (lora.quantize = "adapted"): with q/v
    # adapters the largest 4-bit weight is 4096^2; its Llama builders (this spec's family, the stack's default)
    # quantise every block linear, so the MLP's is the largest
    qv = ('training.lora.targets=["q_proj","v_proj"]', "training.lora.quant_chunk=0")
    adapted = training_memory(load(*qv, "training.lora.quantize=adapted"))
    assert adapted.phases["load"] - adapted.breakdown["weights"] == 68 * 4096 * 4096
    llama = training_memory(load(*qv))
    assert llama.phases["load"] - llama.breakdown["weights"] == 68 * MLP


def test_estimate_json_reports_the_load_phase(write_spec):
    path = write_spec(SPEC.replace("rank = 8\n", "rank = 8\nquant_chunk = 0\n"))
    result = CliRunner().invoke(cli, ["estimate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    memory = json.loads(result.output)["memory"]["training"]
    assert memory["peak_phase"] == "load"
    assert memory["breakdown"]["load_quantisation"] == 68 * MLP
