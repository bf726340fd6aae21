"""Memory and budget thresholds, tested just below and just above the boundary that the estimator gives.

The boundary is computed from llmspec.estimate (the lint rules never recompute it), so these tests keep
checking the rule's threshold logic when the estimator's figures are refined."""

from __future__ import annotations

import math

import pytest
from lint_helpers import lint_spec, positions, write_spec

from llmspec.estimate import compute, training_memory
from llmspec.spec.loader import load_spec

LORA = '''[training]
method = "lora"
micro_batch_size = 4
seq_len = 4096
activation_checkpointing = true

[hardware]
accelerator = "A100-80GB"
memory = {memory}
'''

FULL = '''[training]
method = "full"
dataset_tokens = "1B"
epochs = 3

[hardware]
accelerator = "A100-80GB"
count = 8
sharding = "fsdp"
price_per_gpu_hour = 2.0
{budget}
'''


def _total(tmp_path) -> int:
    return training_memory(load_spec(write_spec(tmp_path, LORA.format(memory='"80GiB"'), "probe.toml"))).total_bytes


def test_mem001_boundary(tmp_path):
    total = _total(tmp_path)
    assert positions(lint_spec(tmp_path, LORA.format(memory=total - 1), ["MEM001"])) == ["1:2 MEM001"]
    assert positions(lint_spec(tmp_path, LORA.format(memory=total), ["MEM001"])) == []


def test_mem002_boundary(tmp_path):
    total = _total(tmp_path)
    below = math.floor(total / 0.9) - 2**20  # headroom just under 10%
    above = math.ceil(total / 0.9) + 2**20
    assert positions(lint_spec(tmp_path, LORA.format(memory=below), ["MEM002"])) == ["1:2 MEM002"]
    assert positions(lint_spec(tmp_path, LORA.format(memory=above), ["MEM002"])) == []
    # the configured threshold is used
    (tmp_path / "llmspec.toml").write_text("[thresholds.MEM002]\nmin_headroom = 0.05\n")
    assert positions(lint_spec(tmp_path, LORA.format(memory=below), ["MEM002"])) == []


@pytest.mark.parametrize(("code", "key", "attr", "scale"), [
    ("BUD001", "budget_gpu_hours", "gpu_hours", 1.0),
    ("BUD002", "budget_usd", "cost", 1.0),
    ("BUD003", "budget_hours", "wall_hours", 1.0),
])
def test_budget_boundaries(tmp_path, code, key, attr, scale):
    estimate = getattr(compute(load_spec(write_spec(tmp_path, FULL.format(budget=""), "probe.toml"))), attr)
    cases = {
        estimate * 0.999: "error",          # just over budget
        estimate * 1.001: "warning",        # just within, above 90%
        estimate / 0.9 * 0.999: "warning",  # just above 90% of it
        estimate / 0.9 * 1.001: None,       # just below 90% of it
    }
    for budget, severity in cases.items():
        result = lint_spec(tmp_path, FULL.format(budget=f"{key} = {budget!r}"), [code])
        assert [f.severity for f in result.findings] == ([severity] if severity else []), (budget, result.findings)
