"""Specs for the estimator tests: written as real TOML files and loaded through the real loader."""

from __future__ import annotations

import pytest

from tests.conftest import LLAMA2_7B_MODEL

LLAMA2_7B = LLAMA2_7B_MODEL + """
[training]
micro_batch_size = 1
seq_len = 4096
dataset_tokens = "100M"

[hardware]
accelerator = "A100-80GB"
price_per_gpu_hour = 2.0
"""

TINY = """
[model]
name = "tiny-llama"
family = "llama"

[model.architecture]
n_layers = 2
d_model = 256
n_heads = 4
n_kv_heads = 2
ffn_dim = 688
vocab_size = 2048
context_length = 512

[training]
micro_batch_size = 2
seq_len = 256

[inference]
seq_len = 512

[hardware]
accelerator = "A100-80GB"
"""


@pytest.fixture
def load(load_text):
    def _load(text: str = LLAMA2_7B, *overrides: str):
        return load_text(text, *overrides)

    return _load


def llama_toml(name: str, *, layers: int, d: int, heads: int, kv: int, ffn: int, vocab: int, context: int,
               training: str) -> str:
    """A small Llama spec on an A100-80GB for the --measure comparisons: its widths, and ``training``, the lines of
    its [training] table (and of any subtable after it)."""
    return f"""
[model]
name = "{name}"
family = "llama"

[model.architecture]
n_layers = {layers}
d_model = {d}
n_heads = {heads}
n_kv_heads = {kv}
ffn_dim = {ffn}
vocab_size = {vocab}
context_length = {context}

[training]
{training}

[hardware]
accelerator = "A100-80GB"
"""


def measured_peak(spec) -> int:
    """The peak of one training step of the real class under FakeTensorMode (llmspec.estimate.measure)."""
    from llmspec.estimate.measure import measure_training

    return measure_training(spec).peak_bytes


@pytest.fixture
def load_reduced(load):
    """A registry preset at d_model 256 (test_measure_families.reduced_spec), ``vocab`` in place of its reduced
    vocabulary of 256, loaded with overrides."""
    def _load(preset: str, *overrides: str, context: int = 256, vocab: int | None = None):
        from tests.estimate.test_measure_families import reduced_spec

        text = reduced_spec(preset, h=256, context=context)
        if vocab is not None:
            text = text.replace("vocab_size = 256\n", f"vocab_size = {vocab}\n")
        return load(text, *overrides)

    return _load
