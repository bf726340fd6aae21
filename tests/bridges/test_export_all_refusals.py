"""`llmspec export` names every value the tool cannot express in one run (it stopped at the first, so the user fixed
one, reran and got the next), each at its key's file:line:col, in the spec's line order, with the value as TOML
writes it (`"fp8-mixed"`, `true`, not Python's `'fp8-mixed'`, `True`); nothing is written. Found by the newcomer
trial of the README."""

from __future__ import annotations

import re

import pytest
from cli_run import run_cli

SPEC = """extends = "preset:Qwen2.5-0.5B"

[model]
name = "x"

[training]
method = "lora"
precision = "fp8-mixed"
optimizer = "adam"
epochs = 1.5

[training.lora]
dora = true

[hardware]
accelerator = "A100-80GB"
count = 2
sharding = "fsdp"
offload = "optimizer"
"""

# tool -> the refused keys, each at its line (8 precision, 9 optimizer, 10 epochs, 13 lora.dora, 19 offload)
EXPECTED = {
    "trl": [(8, 'training.precision = "fp8-mixed"'), (9, 'training.optimizer = "adam"'),
            (19, 'hardware.offload = "optimizer"')],
    "axolotl": [(8, 'training.precision = "fp8-mixed"'), (9, 'training.optimizer = "adam"')],
    "llamafactory": [(8, 'training.precision = "fp8-mixed"'), (9, 'training.optimizer = "adam"'),
                     (19, 'hardware.offload = "optimizer"')],
    "litgpt": [(8, 'training.precision = "fp8-mixed"'), (10, "training.epochs = 1.5"),
               (13, "training.lora.dora = true")],
    "torchtune": [(8, 'training.precision = "fp8-mixed"'), (10, "training.epochs = 1.5")],
}


@pytest.mark.parametrize("tool", sorted(EXPECTED))
def test_every_refusal_at_once(tmp_path, tool):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out.yaml"
    result = run_cli("export", str(spec), "--to", tool, "-o", str(out))
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert [(int(m.group(1)), m.group(2)) for m in (re.match(rf"{re.escape(str(spec))}:(\d+):1: (\S+ = \S+) ", line)
                                                    for line in lines) if m] == EXPECTED[tool], lines
    assert len(lines) == len(EXPECTED[tool]), lines
    assert not re.search(r"'fp8-mixed'|'adam'|'optimizer'|= True\b", result.err), result.err
    assert not out.exists() and result.out == ""


def test_refusal_without_a_key_has_a_position_too(tmp_path):
    """A refusal that names no key (no [training] table) still starts with file:line:col."""
    spec = tmp_path / "spec.toml"
    spec.write_text('extends = "preset:Qwen2.5-0.5B"\n\n[model]\nname = "x"\n', encoding="utf-8")
    result = run_cli("export", str(spec), "--to", "axolotl")
    assert result.code == 2
    assert result.err == f"{spec}:1:1: the spec has no [training] table; there is nothing to export\n"


def test_not_exported_lines_say_an_axolotl(tmp_path):
    """The article follows the tool's name: "an axolotl config", not "a axolotl config"."""
    spec = tmp_path / "spec.toml"
    spec.write_text('extends = "preset:Qwen2.5-0.5B"\n\n[model]\nname = "x"\n\n[training]\nmethod = "lora"\n'
                    'dataset_tokens = "1M"\n', encoding="utf-8")
    result = run_cli("export", str(spec), "--to", "axolotl")
    assert result.code == 0, result.err
    assert f"{spec}:8:1: not exported: training.dataset_tokens (an axolotl config has no equivalent" in result.err
    assert "a axolotl" not in result.err
