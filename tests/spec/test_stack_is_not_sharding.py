"""`training.stack = "deepspeed"` (or "fsdp") was refused with the list of stacks and no word on where DeepSpeed and
FSDP are set (found by the newcomer trial of the README): the one line now says they are sharding backends, set by
hardware.sharding, at the key's file:line:col, exit 2 (and the same line is lint's SPC finding)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from llmspec.cli import cli

SPEC = """[model]
name = "x"
family = "llama"

[model.architecture]
n_layers = 2
d_model = 64
n_heads = 4
ffn_dim = 128
vocab_size = 256
context_length = 128

[training]
stack = "{stack}"
"""


@pytest.mark.parametrize("stack, setting", [
    ("deepspeed", 'hardware.sharding = "zero1", "zero2" or "zero3"'),
    ("DeepSpeed", 'hardware.sharding = "zero1", "zero2" or "zero3"'),
    ("zero3", 'hardware.sharding = "zero1", "zero2" or "zero3"'),
    ("fsdp", 'hardware.sharding = "fsdp"'),
    ("FSDP2", 'hardware.sharding = "fsdp"'),
])
def test_sharding_backend_as_stack_says_where_it_goes(tmp_path, stack, setting):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(stack=stack), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{spec}:14:1: training.stack: {stack!r} is not one of "), lines[0]
    assert "is a sharding backend, not a stack: set " + setting in lines[0]
    lint = CliRunner().invoke(cli, ["lint", str(spec), "--format", "concise"])
    assert "is a sharding backend, not a stack" in lint.output


def test_a_typo_still_gets_did_you_mean(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(stack="torchtun"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 2 and "did you mean 'torchtune'?" in result.output
    assert "sharding backend" not in result.output
