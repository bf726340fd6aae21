"""`llmspec export` refuses a value the tool cannot express with one `file:line:col` line at the spec key (it named
only the file), for every tool."""

from __future__ import annotations

import pytest
from cli_run import run_cli

SPEC = """[model]
name = "x"
family = "llama"

[model.architecture]
n_layers = 2
d_model = 256
n_heads = 4
n_kv_heads = 4
ffn_dim = 688
vocab_size = 2048
context_length = 512

[training]
precision = "fp8-mixed"
"""


@pytest.mark.parametrize("tool", ["trl", "axolotl", "llamafactory", "litgpt", "torchtune"])
def test_refusal_points_at_the_key(tmp_path, tool):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC, encoding="utf-8")
    result = run_cli("export", str(path), "--to", tool, "-o", str(tmp_path / "out.yaml"))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    # torchtune also refuses the model (no torchtune builder has this shape), at [model.architecture], line 5
    assert len(lines) == (2 if tool == "torchtune" else 1), lines
    assert lines[-1].startswith(f"{path}:15:1: training.precision = \"fp8-mixed\" has no "), lines[-1]
    assert not (tmp_path / "out.yaml").exists()
