"""The [sweep] table: valid sweeps pass `llmspec check`; each kind of bad sweep is one located line and exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sweep_helpers import EXAMPLE

from llmspec.cli import cli
from llmspec.spec.loader import load_spec

# (name, text to replace, replacement, (text on the expected line, expected column), words the message must contain)
BAD = [
    ("unknown swept key", '[sweep.parameters."training.seq_len"]', '[sweep.parameters."training.seq_lenn"]',
     ('seq_lenn', 2), ["not a key of the spec", "did you mean 'seq_len'"]),
    ("reversed bounds", "low = 5e-5\nhigh = 1e-3", "low = 1e-3\nhigh = 5e-5", ("low = 1e-3", 1), ["reversed"]),
    ("log-uniform over zero", "low = 5e-5", "low = 0.0", ("low = 0.0", 1), ["log_uniform needs low > 0"]),
    ("log-uniform over negatives", "low = 5e-5\nhigh = 1e-3", "low = -1.0\nhigh = 1e-3", ("low = -1.0", 1), ["low > 0"]),
    ("condition on unknown key", '"training.method" = ["lora"', '"training.methd" = ["lora"', ('training.methd', 10),
     ["condition on 'training.methd'", "did you mean 'method'"]),
    ("grid above the maximum", "grid_points = 4", "grid_points = 5000", ('method = "grid"', 1), ["240,000 points", "max_grid_points"]),
    ("configured maximum", "seed = 7", "seed = 7\nmax_grid_points = 20", ('method = "grid"', 1), ["192 points", "max_grid_points = 20"]),
    ("empty choice", "values = [8, 16, 64]", "values = []", ("values = []", 1), ["space is empty"]),
    ("empty interval", "low = 5e-5\nhigh = 1e-3", "low = 1e-3\nhigh = 1e-3", ("high = 1e-3", 1), ["space is empty"]),
    ("bad key in [sweep]", "seed = 7", "seed = 7\nsamples = 3", ("samples = 3", 1), ["unknown key 'samples'"]),
    ("a table is swept", '[sweep.parameters."training.seq_len"]', '[sweep.parameters."training.lora"]', ('"training.lora"]', 2),
     ["is a table"]),
    ("continuous axis in a grid", "grid_points = 4\n", "", ('"training.learning_rate"]', 2), ["needs grid_points"]),
    ("non-integer int bounds", "low = 4\nhigh = 16", "low = 4.5\nhigh = 16", ("low = 4.5", 1), ["whole number"]),
    ("nan bound", "low = 5e-5", "low = nan", ("low = nan", 1), ["low: nan is not allowed"]),
    ("infinite bound", "high = 1e-3", "high = inf", ("high = inf", 1), ["high: inf is not allowed"]),
    ("nan value", "values = [2048, 4096]", "values = [2048, nan]", ("values = [2048, nan]", 17),
     ["values[1]: nan is not allowed"]),
    ("nan inside a list value", "values = [2048, 4096]", "values = [2048, [1, nan]]", ("values = [2048, [1, nan]]", 17),
     ["values[1]: item 1 of the list is nan"]),
    ("table as a value", "values = [2048, 4096]", "values = [2048, {a = 1}]", ("values = [2048, {a = 1}]", 17),
     ["values[1]: expected true/false, a number or a string, or a list of them, got a table"]),
    ("choice value of the wrong type", "values = [8, 16, 64]", 'values = [8, "abc", 64]', ('values = [8, "abc", 64]', 14),
     ["values[1]: 'abc' is not a valid training.lora.rank", "valid integer"]),
    ("choice value out of the key's range", "values = [2048, 4096]", "values = [2048, 0]", ("values = [2048, 0]", 17),
     ["values[1]: 0 is not a valid training.seq_len"]),
    ("bound out of the key's range", "low = 4\nhigh = 16", "low = 0\nhigh = 16", ("low = 0", 1),
     ["low: 0 is not a valid training.micro_batch_size"]),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_sweep_is_valid() -> None:
    spec = load_spec(EXAMPLE)
    assert spec.sweep is not None and spec.sweep.method == "grid"
    assert set(spec.sweep.parameters) == {"training.learning_rate", "training.lora.rank",
                                          "training.micro_batch_size", "training.seq_len",
                                          "training.activation_checkpointing"}
    assert spec.sweep.parameters["training.lora.rank"].when == {"training.method": ["lora", "qlora"]}


@pytest.mark.parametrize("name,old,new,where,words", BAD, ids=[b[0] for b in BAD])
def test_bad_sweep_is_one_located_line(tmp_path, example_text, name, old, new, where, words) -> None:
    assert old in example_text
    text = example_text.replace(old, new, 1)
    path = _write(tmp_path, text)
    marker, col = where
    line = next(n for n, row in enumerate(text.splitlines(), 1) if marker in row and not row.startswith("#"))
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    match = re.match(rf"^{re.escape(str(path))}:(\d+):(\d+): (.*)$", lines[0])
    assert match, lines[0]
    assert (int(match[1]), int(match[2])) == (line, col), lines[0]
    for word in words:
        assert word in match[3], lines[0]
    assert "Traceback" not in result.output


def test_empty_space(tmp_path) -> None:
    path = _write(tmp_path, '[model]\nname = "m"\n[model.architecture]\nn_layers = 1\nd_model = 8\nn_heads = 1\n'
                            'ffn_dim = 8\nvocab_size = 8\ncontext_length = 8\n\n[sweep]\nmethod = "random"\n')
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == f"{path}:11:2: sweep: the sweep space is empty: add [sweep.parameters.\"KEY\"] tables"
