"""LitGPT's own defaults, read from the installed litgpt 0.5.13 and lightning (as text: litgpt is installed without
its CUDA-only dependencies), and what the estimate does with them."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspec.cli import cli
from llmspec.spec import stacks
from tests.conftest import LLAMA2_7B_MODEL

# LitGPT's LoRA flags -> the HF module names the spec uses (litgpt/lora.py: CausalSelfAttention's qkv split into
# query / key / value, proj = o_proj; the MLP's fc_1, fc_2, proj; lm_head)
FLAG_TARGETS = {"lora_query": ["q_proj"], "lora_key": ["k_proj"], "lora_value": ["v_proj"],
                "lora_projection": ["o_proj"], "lora_mlp": ["gate_proj", "up_proj", "down_proj"],
                "lora_head": ["lm_head"]}

LLAMA2_7B = LLAMA2_7B_MODEL + """
[training]
stack = "litgpt"
method = "lora"
micro_batch_size = 1
seq_len = 512

[hardware]
accelerator = "A100-80GB"
"""


def _source(package: str, relative: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} is not installed here; the litgpt preset cites its source instead")
    return (Path(spec.origin).parent / relative).read_text(encoding="utf-8")


def _setup_defaults(source: str) -> dict:
    fn = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == "setup")
    names = [a.arg for a in fn.args.args]
    return {n: ast.literal_eval(d) for n, d in zip(names[len(names) - len(fn.args.defaults):], fn.args.defaults,
                                                    strict=True) if isinstance(d, ast.Constant)}


def test_litgpt_default_lora_targets_are_its_finetune_scripts_flags():
    defaults = _setup_defaults(_source("litgpt", "finetune/lora.py"))
    expected = [t for flag, targets in FLAG_TARGETS.items() if defaults[flag] for t in targets]
    assert expected == ["q_proj", "v_proj"]
    assert stacks.stack("litgpt").lora_targets.value == expected


def test_estimate_takes_litgpt_targets_from_the_stack_and_says_so(write_spec):
    path = write_spec(LLAMA2_7B)
    result = CliRunner().invoke(cli, ["estimate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    notes = out["memory"]["training"]["assumptions"]
    said = [n for n in notes if n.startswith("lora.targets = ")]
    assert said == [f"lora.targets = ['q_proj', 'v_proj']: stack litgpt's default "
                    f"({stacks.stack('litgpt').lora_targets.source})"], notes
    # q and v of 32 blocks at lora.rank 16: 32 x 2 x (4096 x 16 + 16 x 4096) trainable parameters
    told = CliRunner().invoke(cli, ["estimate", str(path), "--format", "json", "--set",
                                    'training.lora.targets=["q_proj", "v_proj"]'])
    assert json.loads(told.output)["params"]["trainable"] == out["params"]["trainable"] == 32 * 2 * 2 * 4096 * 16
    assert not any(n.startswith("lora.targets = ") for n in json.loads(told.output)["memory"]["training"]["assumptions"])


def test_litgpt_under_its_default_bf16_mixed_builds_fp32_weights():
    # litgpt/finetune/lora.py builds GPT(config) under fabric.init_module, which uses the precision plugin's
    # module_init_context: lightning's MixedPrecision (bf16-mixed, LitGPT's default) has none, so parameters are
    # created fp32; HalfPrecision (bf16-true) creates them in bf16
    utils = _source("litgpt", "utils.py")
    assert 'return "bf16-mixed" if training else "bf16-true"' in utils
    assert "with fabric.init_module(empty_init=(fabric.world_size > 1)):\n        model = GPT(config)" in _source(
        "litgpt", "finetune/lora.py")
    amp = ast.parse(_source("lightning", "fabric/plugins/precision/amp.py"))
    mixed = next(n for n in amp.body if isinstance(n, ast.ClassDef) and n.name == "MixedPrecision")
    assert "module_init_context" not in {f.name for f in mixed.body if isinstance(f, ast.FunctionDef)}
    half = ast.parse(_source("lightning", "fabric/plugins/precision/half.py"))
    true = next(n for n in half.body if isinstance(n, ast.ClassDef) and n.name == "HalfPrecision")
    assert "module_init_context" in {f.name for f in true.body if isinstance(f, ast.FunctionDef)}
    from llmspec.spec.models import Training

    mixed_tr = Training.model_validate({"stack": "litgpt", "method": "lora"})
    true_tr = Training.model_validate({"stack": "litgpt", "method": "lora", "precision": "bf16"})
    assert (mixed_tr.precision, mixed_tr.base_dtype, mixed_tr.lora.dtype) == ("bf16-mixed", "fp32", "fp32")
    assert (true_tr.base_dtype, true_tr.lora.dtype) == ("bf16", "bf16")
    assert "base_dtype" in mixed_tr.stack_sources() and "base_dtype" not in mixed_tr.model_fields_set


def test_litgpt_default_precision_estimate_counts_fp32_base_weights(write_spec):
    # Llama-2-7B (6,738,415,616 parameters) under LitGPT's default bf16-mixed: the frozen base is 4 bytes a
    # parameter, not 2; a spec that states bf16-true (as every published LitGPT row does) keeps 2
    path = write_spec(LLAMA2_7B)
    parts = {}
    for precision in ("bf16-mixed", "bf16"):
        result = CliRunner().invoke(cli, ["estimate", str(path), "--format", "json", "--set",
                                          f"training.precision={precision}"])
        assert result.exit_code == 0, result.output
        parts[precision] = json.loads(result.output)["memory"]["training"]["breakdown"]["weights"]
    assert parts["bf16-mixed"] - parts["bf16"] == pytest.approx(6_738_415_616 * 2, rel=0.01)


def test_published_litgpt_runs_state_their_precision():
    # the published LitGPT runs trained in bf16-true (their configs and scripts say so); the litgpt preset's
    # default (bf16-mixed, fp32 weights) must not reach them, so each states its precision
    import tomllib

    root = Path(__file__).resolve().parents[2] / "benchmarks" / "published"
    runs = tomllib.loads((root / "runs.toml").read_text(encoding="utf-8"))["run"]
    scored = [r for r in runs if r["stack"] == "litgpt" and r.get("mode", "training") == "training"
              and not r.get("exclude")]
    assert len(scored) >= 30
    for run in scored:
        spec, said = run["spec"], run["setup"]
        if "spec_file" in spec:
            said = (root / spec["spec_file"]).read_text(encoding="utf-8")
            spec = tomllib.loads(said)
        assert spec["training"]["precision"] == "bf16" and "bf16-true" in said, run["id"]


def test_litgpt_checkpoints_activations_only_on_more_than_one_device():
    # finetune/full.py and finetune/lora.py shard over more than one device and checkpoint every Block there: the
    # preset's default follows the device count (hardware.count x hardware.nodes)
    lora = _source("litgpt", "finetune/lora.py")
    fn = next(n for n in ast.walk(ast.parse(lora)) if isinstance(n, ast.FunctionDef) and n.name == "parallelize_fn")
    assert [a.arg for a in fn.args.args][-1] == "activation_checkpointing" and fn.args.defaults[-1].value is True
    assert "if devices * num_nodes > 1:" in lora and "parallelize_fn=parallelize_fn" in lora
    full = _source("litgpt", "finetune/full.py")
    assert "if devices * num_nodes > 1:\n        strategy = FSDPStrategy(" in full
    assert "activation_checkpointing_policy={Block}," in full
    preset = stacks.stack("litgpt").defaults["activation_checkpointing"]
    assert preset.by == "devices" and preset.value == {"one": False, "several": True}
    assert "finetune/full.py:setup" in preset.source and "parallelize_fn(activation_checkpointing=True)" in preset.source


def _litgpt_spec(hardware: dict, **training):
    from llmspec.spec.models import Spec

    arch = {"n_layers": 2, "d_model": 256, "n_heads": 4, "ffn_dim": 688, "vocab_size": 2048, "context_length": 512}
    return Spec.model_validate({"model": {"name": "tiny", "family": "llama", "architecture": arch},
                                "training": {"stack": "litgpt", "method": "full", "precision": "bf16", **training},
                                "hardware": {"accelerator": "A10G", **hardware}})


def test_litgpt_checkpointing_default_follows_the_device_count():
    from llmspec.estimate import training_memory
    from llmspec.spec.models import Spec, Training

    assert _litgpt_spec({}).training.activation_checkpointing is False
    four = _litgpt_spec({"count": 4, "sharding": "fsdp"})
    assert four.training.activation_checkpointing is True
    assert "activation_checkpointing" in four.training.stack_sources()  # a default, said as one
    assert _litgpt_spec({"count": 1, "nodes": 2, "sharding": "fsdp"}).training.activation_checkpointing is True
    told = _litgpt_spec({"count": 4, "sharding": "fsdp"}, activation_checkpointing=False)
    assert told.training.activation_checkpointing is False
    stated = _litgpt_spec({"count": 4, "sharding": "fsdp"}, activation_checkpointing=True)
    assert training_memory(four).per_gpu_bytes == training_memory(stated).per_gpu_bytes
    assert training_memory(four).per_gpu_bytes < training_memory(told).per_gpu_bytes
    # the training table a spec shares (a sweep point reuses its base's) is not changed in place
    shared = Training.model_validate({"stack": "litgpt", "method": "full"})
    spec = Spec.model_validate({"model": four.model, "training": shared, "hardware": four.hardware})
    assert spec.training.activation_checkpointing is True and shared.activation_checkpointing is False


LLAMA32_1B_FULL = """
[model]
name = "llama-3.2-1b"
family = "llama"

[model.architecture]
n_layers = 16
d_model = 2048
n_heads = 32
n_kv_heads = 8
ffn_dim = 8192
vocab_size = 128256
context_length = 131072
tie_embeddings = true

[training]
stack = "{stack}"
method = "full"
precision = "bf16"
micro_batch_size = 1
seq_len = 256
"""


def test_litgpt_keeps_a_separate_head_even_for_a_tied_checkpoint():
    # LitGPT's GPT builds lm_head beside transformer.wte and never shares them in fine-tuning; the converter copies a
    # tied HF embedding into lm_head
    model = _source("litgpt", "model.py")
    assert "self.lm_head = nn.Linear(config.n_embd, config.padded_vocab_size" in model
    assert "wte=nn.Embedding(config.padded_vocab_size, config.n_embd)" in model
    assert "tie" not in model.split("class GPT", 1)[1].split("def forward", 1)[0]
    convert = _source("litgpt", "scripts/convert_hf_checkpoint.py")
    assert 'state_dict["lm_head.weight"] = state_dict["transformer.wte.weight"]' in convert
    assert '"tie_embeddings"' in _source("litgpt", "finetune/full.py")  # validate_args: unsupported in fine-tuning
    preset = stacks.stack("litgpt").defaults["tie_embeddings"]
    assert preset.value is False and "GPT.__init__" in preset.source


def test_litgpt_counts_the_untied_head_of_a_tied_checkpoint(tmp_path):
    # Llama-3.2-1B ties its head in HF; under LitGPT it is a vocab x d_model matrix more, with its gradient and
    # AdamW states: 128256 x 2048 x (2 + 2 + 2 x 2) bytes in pure bf16
    from llmspec.estimate import training_memory
    from llmspec.spec.loader import load_spec

    est = {}
    for name in ("litgpt", "pytorch"):
        path = tmp_path / f"{name}.toml"
        path.write_text(LLAMA32_1B_FULL.replace("{stack}", name), encoding="utf-8")
        est[name] = training_memory(load_spec(path)).breakdown
    head = 128256 * 2048
    assert est["litgpt"]["weights"] - est["pytorch"]["weights"] == pytest.approx(2 * head, abs=8)
    assert est["litgpt"]["optimizer_states"] - est["pytorch"]["optimizer_states"] == pytest.approx(4 * head, abs=8)
    told = tmp_path / "told.toml"
    told.write_text(LLAMA32_1B_FULL.replace("{stack}", "litgpt") + "tie_embeddings = true\n", encoding="utf-8")
    assert training_memory(load_spec(told)).breakdown["weights"] == est["pytorch"]["weights"]
