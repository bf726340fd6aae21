"""torchtune's own `tune validate` accepts the fixtures and what `llmspec export --to torchtune` writes, and the
exported top-level keys match the recipe's shipped config (tune validate only checks component signatures).

torchtune 0.6.1 needs torchao 0.10, so it runs in the bridges venv (.venv-bridges, built by .ci/run's separate
bridge-parser step; LLMSPEC_BRIDGES_PYTHON names another)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from bridge_helpers import FIXTURES, bridges_python, run_cli

pytestmark = pytest.mark.bridge_parsers
PYTHON = bridges_python()
HERE = Path(__file__).resolve().parent
# fixture -> (the shipped config it was copied from, the recipe that runs it)
SHIPPED = {"torchtune_llama2_7b_qlora_single_device": ("llama2/7B_qlora_single_device.yaml", "lora_finetune_single_device"),
           "torchtune_llama3_8b_lora_single_device": ("llama3/8B_lora_single_device.yaml", "lora_finetune_single_device"),
           "torchtune_qwen2_5_0_5b_full_single_device": ("qwen2_5/0.5B_full_single_device.yaml", "full_finetune_single_device")}


# preset, method, the shipped config (torchtune 0.6.1 recipes/configs) whose keys the export must match
PRESET_EXPORTS = [("Qwen2.5-7B", "lora", "qwen2_5/7B_lora_single_device.yaml"),
                  ("Qwen2.5-7B", "full", "qwen2_5/7B_full_single_device.yaml"),
                  ("Gemma-7B", "qlora", "gemma/7B_qlora_single_device.yaml"),
                  ("Gemma-2-9B", "lora", "gemma2/9B_lora_single_device.yaml"),
                  ("Mistral-7B", "lora", "mistral/7B_lora_single_device.yaml")]


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> dict[str, dict]:
    if PYTHON is None:
        pytest.skip("the bridges venv (.venv-bridges with torchtune 0.6.1) is absent; .ci/run's bridge-parser step builds it")
    tmp = tmp_path_factory.mktemp("torchtune")
    pairs = []
    for stem, (shipped, recipe) in SHIPPED.items():
        config = FIXTURES / f"{stem}.yaml"
        spec, exported = tmp / f"{stem}.toml", tmp / f"{stem}.export.yaml"
        assert run_cli("import", str(config), "-o", str(spec)).code == 0
        result = run_cli("export", str(spec), "--to", "torchtune", "-o", str(exported))
        assert result.code == 0, result.err
        pairs += [f"{config}::{shipped}::{recipe}", f"{exported}::{shipped}::{recipe}"]
    for preset, method, shipped in PRESET_EXPORTS:  # the other builders export knows, from registry presets
        spec, exported = tmp / f"{preset}_{method}.toml", tmp / f"{preset}_{method}.export.yaml"
        spec.write_text(f'version = 1\nextends = "preset:{preset}"\n[model]\nname = "m"\n[training]\n'
                        f'method = "{method}"\nprecision = "bf16"\nstack = "torchtune"\n'
                        # the shipped full configs run without a scheduler (no lr_scheduler key)
                        + ('lr_schedule = "constant"\n' if method == "full" else ""))
        result = run_cli("export", str(spec), "--to", "torchtune", "-o", str(exported))
        assert result.code == 0, result.err
        recipe = "full_finetune_single_device" if method == "full" else "lora_finetune_single_device"
        pairs.append(f"{exported}::{shipped}::{recipe}")
    bad = tmp / "bad.yaml"  # lora_rank given to a builder that has no such parameter
    bad.write_text("model:\n  _component_: torchtune.models.qwen2_5.qwen2_5_0_5b\n  lora_rank: 8\n")
    pairs.append(f"{bad}::qwen2_5/0.5B_full_single_device.yaml::full_finetune_single_device")
    proc = subprocess.run([str(PYTHON), str(HERE / "parse_torchtune.py"), *pairs], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {Path(r["path"]).name: r for r in rows}


@pytest.mark.parametrize("stem", SHIPPED)
def test_fixture_passes_tune_validate(validated, stem):
    assert validated[f"{stem}.yaml"]["ok"] is True, validated[f"{stem}.yaml"]["error"]


@pytest.mark.parametrize("stem", SHIPPED)
def test_export_passes_tune_validate_and_the_shipped_key_set(validated, stem):
    row = validated[f"{stem}.export.yaml"]
    assert row["ok"] is True, row["error"]
    # every top-level key is one the recipe's shipped config has, and every key the recipe reads without a default
    # (cfg.KEY) that the shipped config sets is written
    assert set(row["keys"]) <= set(row["shipped"]), set(row["keys"]) - set(row["shipped"])
    missing = (set(row["required"]) & set(row["shipped"])) - set(row["keys"])
    assert not missing, missing


def test_tune_validate_refuses_a_wrong_component_key(validated):
    assert validated["bad.yaml"]["ok"] is False


@pytest.mark.parametrize(("preset", "method", "shipped"), PRESET_EXPORTS, ids=lambda v: str(v))
def test_preset_export_passes_tune_validate_and_the_shipped_key_set(validated, preset, method, shipped):
    row = validated[f"{preset}_{method}.export.yaml"]
    assert row["ok"] is True, row["error"]
    assert set(row["keys"]) <= set(row["shipped"]), set(row["keys"]) - set(row["shipped"])
    missing = (set(row["required"]) & set(row["shipped"])) - set(row["keys"])
    assert not missing, missing
