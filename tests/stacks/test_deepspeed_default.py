"""A ZeRO spec without a [hardware.deepspeed] table gets its stack's DeepSpeed buckets: HF Trainer's integration fills
"auto" reduce / prefetch buckets from hidden_size (checked in the installed transformers)."""

from __future__ import annotations

import inspect

from llmspec.estimate import training_memory
from llmspec.spec import stacks
from tests.stacks.test_stack_memory import load  # noqa: F401  (the fixture)

ZERO3 = ("hardware.count=8", "hardware.sharding=zero3")


def test_hf_integration_fills_auto_buckets_from_hidden_size():
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    src = inspect.getsource(HfTrainerDeepSpeedConfig.trainer_config_finalize)
    assert 'self.fill_only("zero_optimization.reduce_bucket_size", hidden_size * hidden_size)' in src
    assert "int(0.9 * hidden_size * hidden_size)" in src
    assert stacks.stack("hf-trainer").deepspeed_buckets.value == "auto"
    for name in ("trl", "axolotl", "llamafactory"):  # on the HF Trainer
        assert stacks.stack(name).deepspeed_buckets == stacks.stack("hf-trainer").deepspeed_buckets


def test_missing_deepspeed_table_is_the_stacks_auto_buckets(load):  # noqa: F811
    h2 = 4096 * 4096
    buckets = 2 * h2 + 2 * int(0.9 * h2)  # reduce + ZeRO-3 prefetch, 16-bit elements
    for name in ("hf-trainer", "trl", "axolotl", "llamafactory"):
        bare = training_memory(load(f"training.stack={name}", *ZERO3))
        table = training_memory(load(f"training.stack={name}", *ZERO3, "hardware.deepspeed.reduce_bucket_size=auto"))
        assert bare.per_gpu_bytes == table.per_gpu_bytes, name
        assert any('DeepSpeed buckets on "auto"' in a for a in bare.assumptions), name
    # a stack with no known DeepSpeed default counts none and says so
    plain = training_memory(load("training.stack=pytorch", *ZERO3))
    hf = training_memory(load("training.stack=pytorch", *ZERO3, "hardware.deepspeed.reduce_bucket_size=auto"))
    assert hf.breakdown["gathered_layers"] - plain.breakdown["gathered_layers"] == buckets
    assert any("DeepSpeed buckets not counted" in a for a in plain.assumptions)
    # the HF Trainer's bare spec counts the buckets the plain one leaves out
    bare = training_memory(load("training.stack=hf-trainer", *ZERO3))
    assert any("DeepSpeed buckets: reduce 16,777,216" in a for a in bare.assumptions)
