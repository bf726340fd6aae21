"""FSDP's deferred gradient sync (sync_each_batch = false) under LoRA/QLoRA keeps what the stack's wrapping says:
only the adapters' gradients where adapters are FSDP units of their own (HF Trainer's PEFT wrap policy) or FSDP2
shards per parameter (LitGPT, torchtune); each block's whole gradient where adapters sit inside their block's unit.
Checked against real FSDP (gloo, one CPU rank; no GPU needed) and through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspec.cli import cli
from llmspec.estimate.stack import fsdp_deferred_numel
from llmspec.spec import stacks
from llmspec.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[2]

# the probe's model (tests/stacks/fsdp_no_sync_probe.py): a 2-layer Llama, LoRA r=4 on q_proj and v_proj
TINY = """
[model]
name = "tiny-llama"
family = "llama"

[model.architecture]
n_layers = 2
d_model = 64
n_heads = 4
n_kv_heads = 4
ffn_dim = 128
vocab_size = 128
context_length = 64
tie_embeddings = false

[training]
method = "lora"
micro_batch_size = 1
seq_len = 16
gradient_accumulation = 2
sync_each_batch = false
[training.lora]
rank = 4
targets = ["q_proj", "v_proj"]

[hardware]
accelerator = "A100-80GB"
count = 2
sharding = "fsdp"
"""
PROBE_KEY = {"adapters": "peft-policy-orig-True", "per-parameter": "fsdp2", "blocks": "blocks"}


@pytest.fixture(scope="module")
def probe() -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("fsdp_no_sync_probe.py"))],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# stacks that build LoRA adapters (torchtitan trains every parameter: its supports table rules out LoRA, MEM004)
LORA_STACKS = [n for n in stacks.names() if "method" not in stacks.stack(n).supports
               or "lora" in stacks.stack(n).supports["method"].allowed()]


@pytest.mark.slow
@pytest.mark.needs("peft")
@pytest.mark.needs("transformers")
@pytest.mark.parametrize("name", LORA_STACKS)
def test_deferred_sync_keeps_what_real_fsdp_keeps(name, probe, tmp_path):
    # real FSDP: PEFT's policy holds the adapters' gradients only (either use_orig_params), FSDP2 too; per-block
    # wrapping holds every block parameter's gradient, frozen ones included
    assert probe["peft-policy-orig-True"] == probe["peft-policy-orig-False"] == probe["fsdp2"] == probe["trainable"]
    assert probe["blocks"] > 20 * probe["trainable"] and probe["fsdp2-synced"] == 0
    path = tmp_path / "spec.toml"
    path.write_text(TINY, encoding="utf-8")
    spec = load_spec(path, [f"training.stack={name}"])
    units = stacks.stack(name).defaults["fsdp_lora_units"].value
    assert spec.training.fsdp_lora_units == units
    assert fsdp_deferred_numel(spec, spec.training) == probe[PROBE_KEY[units]], (name, units)
    # a spec can say how its run wraps (e.g. LitGPT before 0.5 wrapped per block with FSDP1)
    for told, key in PROBE_KEY.items():
        spec = load_spec(path, [f"training.stack={name}", f"training.fsdp_lora_units={told}"])
        assert fsdp_deferred_numel(spec, spec.training) == probe[key], (name, told)


def test_hf_trainer_family_defers_only_the_adapters_gradients_not_the_frozen_blocks():
    # the auditor's repro: QLoRA all-linear Llama-3-70B, FSDP over 4 x A100-40GB, accumulation 2 under TRL. The old
    # estimate kept 68.45B frozen block weights' gradients unsharded (164.0 GiB, "does not fit"); HF Trainer wraps
    # each LoRA layer as its own unit (update_fsdp_plugin_peft), so only the adapters' ~0.21B fp32 gradients are kept
    sets = ["training.activation_checkpointing=true", "training.method=qlora", 'training.lora.targets=["all-linear"]',
            "training.lora.rank=16", "hardware.count=4", "hardware.accelerator=A100-40GB",
            "training.micro_batch_size=1", "training.seq_len=3072"]
    example = ROOT / "examples" / "llama3-70b-full-fsdp-8xh100.toml"
    totals = {}
    for stack in ("hf-trainer", "trl", "axolotl", "llamafactory", "accelerate"):
        for ga in (1, 2):
            args = ["estimate", str(example), "--format", "json", "--set", f"training.stack={stack}",
                    "--set", f"training.gradient_accumulation={ga}"]
            for s in sets:
                args += ["--set", s]
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, result.output
            totals[stack, ga] = json.loads(result.output)["memory"]["training"]
    for stack in ("hf-trainer", "trl", "axolotl", "llamafactory"):
        deferred, single = totals[stack, 2]["per_gpu_bytes"], totals[stack, 1]["per_gpu_bytes"]
        assert 0 < deferred - single < 1.5 * 2**30, stack  # the adapters' fp32 gradients, about 0.8 GiB
        assert any("only the adapters' gradients" in a for a in totals[stack, 2]["assumptions"])
    # accelerate's own per-block wrap keeps the blocks' whole gradients: tens of GiB
    assert totals["accelerate", 2]["per_gpu_bytes"] - totals["accelerate", 1]["per_gpu_bytes"] > 100 * 2**30


def test_full_fine_tune_defers_the_whole_models_gradient_on_every_stack(tmp_path):
    # the tiny Llama: per layer 4 x 64 x 64 attention + 3 x 64 x 128 MLP + 2 x 64 norms = 41,088; embeddings and the
    # untied head 128 x 64 each, final norm 64 (LlamaForCausalLM(CFG) in the probe has these 98,624 parameters)
    path = tmp_path / "spec.toml"
    path.write_text(TINY, encoding="utf-8")
    for name in stacks.names():
        spec = load_spec(path, [f"training.stack={name}", "training.method=full"])
        assert fsdp_deferred_numel(spec, spec.training) == 2 * 41_088 + 2 * 128 * 64 + 64, name


def test_the_cited_wrapping_is_in_the_installed_packages():
    # the sources the presets cite for fsdp_lora_units, read in the installed packages (litgpt as text: it is
    # installed without its CUDA-only dependencies)
    import importlib.util
    import inspect

    from transformers import trainer

    assert "update_fsdp_plugin_peft(self.model, self.accelerator)" in inspect.getsource(
        trainer.Trainer._prepare_for_training)
    spec = importlib.util.find_spec("litgpt")
    if spec is None or spec.origin is None:
        pytest.skip("litgpt is not installed here; its preset cites litgpt/finetune/lora.py:parallelize_fn")
    lora = (Path(spec.origin).parent / "finetune" / "lora.py").read_text(encoding="utf-8")
    assert "strategy = ModelParallelStrategy(" in lora and "fully_shard(m, mesh=dp_mesh)" in lora
