"""Issue 12, "bad input": the audit of every training and inference knob against each stack's and engine's supports
table (stackfit). Each knob/stack pair below linted clean before although the stack cannot run it (or, for the HF
Trainer's offloading and every-n checkpointing, was flagged although transformers 5.24 runs it). Run through the real
`llmspec lint` on a real TOML file; where the stack is installed here its source is read to check the table's claim.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspec.cli import cli

MODEL = """
[model]
name = "Llama-3-8B"
family = "llama"
architecture = { n_layers = 32, d_model = 4096, n_heads = 32, n_kv_heads = 8, ffn_dim = 14336, vocab_size = 128256, context_length = 8192 }
"""


def lint(tmp_path: Path, body: str, code: str = "MEM004") -> list[dict]:
    path = tmp_path / "spec.toml"
    path.write_text(MODEL + body, encoding="utf-8")
    result = CliRunner().invoke(cli, ["lint", str(path), "--select", code, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def source(package: str, relative: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    return (Path(next(iter(spec.submodule_search_locations))).parent / relative).read_text(encoding="utf-8")


# (name, TOML after [model], the key MEM004 reports, the package its source cites)
FLAGGED = [
    ("hf-trainer has no per-op checkpointing",
     '[training]\nactivation_checkpointing = true\ncheckpoint_policy = "selective-op"\n',
     "training.checkpoint_policy", "transformers==5.24.0:"),
    ("trl inherits it",
     '[training]\nstack = "trl"\nactivation_checkpointing = true\ncheckpoint_policy = "selective-op"\n',
     "training.checkpoint_policy", "transformers==5.24.0:"),
    ("hf-trainer offloads only with checkpointing",
     '[training]\nactivation_offload = true\n', "training.activation_offload", "transformers==5.24.0:"),
    ("hf-trainer QLoRA blocks are 64",
     '[training]\nmethod = "qlora"\n[training.lora]\nquant_block = 128\n', "training.lora.quant_block",
     "transformers==5.24.0:"),
    ("torchtune LoRA checkpoints every layer",
     '[training]\nstack = "torchtune"\nmethod = "lora"\nprecision = "bf16"\nactivation_checkpointing = true\n'
     'checkpoint_policy = "every-n"\n', "training.checkpoint_policy", "torchtune==0.6.1:"),
    ("torchtune has no selective-op",
     '[training]\nstack = "torchtune"\nprecision = "bf16"\nactivation_checkpointing = true\n'
     'checkpoint_policy = "selective-op"\n', "training.checkpoint_policy", "torchtune==0.6.1:"),
    ("torchtune LoRA has no optimizer in backward",
     '[training]\nstack = "torchtune"\nmethod = "lora"\nprecision = "bf16"\noptimizer_in_backward = true\n',
     "training.optimizer_in_backward", "torchtune==0.6.1:"),
    ("torchtune offloads only with checkpointing",
     '[training]\nstack = "torchtune"\nprecision = "bf16"\nactivation_checkpointing = false\n'
     'activation_offload = true\n', "training.activation_offload", "torchtune==0.6.1:"),
    ("torchtune base in the model dtype",
     '[training]\nstack = "torchtune"\nmethod = "lora"\nprecision = "bf16"\nbase_dtype = "fp32"\n',
     "training.base_dtype", "torchtune==0.6.1:"),
    ("torchtune NF4 only",
     '[training]\nstack = "torchtune"\nmethod = "qlora"\nprecision = "bf16"\n[training.lora]\nquant_format = "fp4"\n',
     "training.lora.quant_format", "torchtune==0.6.1:"),
    ("torchao NF4 always double-quantises",
     '[training]\nstack = "torchtune"\nmethod = "qlora"\nprecision = "bf16"\n[training.lora]\ndouble_quant = false\n',
     "training.lora.double_quant", "torchao==0.7.0:"),
    ("litgpt checkpoints whole Blocks",
     '[training]\nstack = "litgpt"\nactivation_checkpointing = true\ncheckpoint_policy = "every-n"\n'
     '[hardware]\ncount = 2\n', "training.checkpoint_policy", "litgpt==0.5.13:"),
    ("litgpt never checkpoints on one GPU",
     '[training]\nstack = "litgpt"\nactivation_checkpointing = true\n', "training.activation_checkpointing",
     "litgpt==0.5.13:"),
    ("litgpt always checkpoints on several GPUs",
     '[training]\nstack = "litgpt"\nactivation_checkpointing = false\n[hardware]\ncount = 4\n',
     "training.activation_checkpointing", "litgpt==0.5.13:"),
    ("litgpt finetuning never compiles",
     '[training]\nstack = "litgpt"\ncompile = true\n', "training.compile", "litgpt==0.5.13:"),
    ("litgpt has no activation offloading",
     '[training]\nstack = "litgpt"\nactivation_offload = true\n', "training.activation_offload", "litgpt==0.5.13:"),
    ("litgpt has no DoRA",
     '[training]\nstack = "litgpt"\nmethod = "lora"\nprecision = "bf16"\n[training.lora]\ndora = true\n',
     "training.lora.dora", "litgpt==0.5.13:"),
    ("litgpt never ties its head",
     '[training]\nstack = "litgpt"\ntie_embeddings = true\n', "training.tie_embeddings", "litgpt==0.5.13:"),
    ("litgpt adapters in the precision's dtype",
     '[training]\nstack = "litgpt"\nmethod = "lora"\nprecision = "bf16"\n[training.lora]\ndtype = "fp32"\n',
     "training.lora.dtype", "litgpt==0.5.13:"),
    ("litgpt base in the precision's dtype",
     '[training]\nstack = "litgpt"\nmethod = "lora"\nprecision = "bf16-mixed"\nbase_dtype = "bf16"\n',
     "training.base_dtype", "litgpt==0.5.13:"),
    ("litgpt QLoRA blocks are 64",
     '[training]\nstack = "litgpt"\nmethod = "qlora"\nprecision = "bf16"\n[training.lora]\nquant_block = 256\n',
     "training.lora.quant_block", "lightning==2.6.6:"),
    ("torchtune reduce-scatters every micro-batch",
     '[training]\nstack = "torchtune"\nmethod = "lora"\nprecision = "bf16"\ngradient_accumulation = 4\n'
     'sync_each_batch = false\n[hardware]\ncount = 8\nsharding = "fsdp"\n', "training.sync_each_batch", "torchtune==0.6.1:"),
    ("torchtune shards per parameter",
     '[training]\nstack = "torchtune"\nmethod = "lora"\nprecision = "bf16"\nfsdp_lora_units = "blocks"\n'
     '[hardware]\ncount = 8\nsharding = "fsdp"\n', "training.fsdp_lora_units", "torchtune==0.6.1:"),
    ("litgpt never syncs accumulating micro-batches",
     '[training]\nstack = "litgpt"\nmethod = "lora"\ngradient_accumulation = 4\nsync_each_batch = true\n'
     '[hardware]\ncount = 8\nsharding = "fsdp"\n', "training.sync_each_batch", "litgpt==0.5.13:"),
    ("litgpt LoRA shards per parameter",
     '[training]\nstack = "litgpt"\nmethod = "lora"\nfsdp_lora_units = "adapters"\n[hardware]\ncount = 8\n'
     'sharding = "fsdp"\n', "training.fsdp_lora_units", "litgpt==0.5.13:"),
    ("litgpt generate preallocates its cache",
     '[inference]\nbackend = "litgpt"\nkv_allocation = "paged"\n', "inference.kv_allocation", "litgpt==0.5.13:"),
    ("litgpt generate never ties its head",
     '[inference]\nbackend = "litgpt"\ntie_embeddings = true\n', "inference.tie_embeddings", "litgpt==0.5.13:"),
    ("litgpt generate keeps embeddings whole",
     '[inference]\nbackend = "litgpt"\nshard_embeddings = true\ntensor_parallel = 2\n[hardware]\ncount = 2\n',
     "inference.shard_embeddings", "litgpt==0.5.13:"),
]


@pytest.mark.parametrize("name,body,key,cites", FLAGGED, ids=[c[0] for c in FLAGGED])
def test_a_knob_the_stack_cannot_run_is_a_finding(tmp_path, name, body, key, cites):
    findings = lint(tmp_path, body)
    assert [f["key"] for f in findings] == [key], findings
    found = findings[0]
    assert found["severity"] == "error" and found["fix"]
    assert found["message"].rsplit("(", 1)[-1].startswith(cites), found["message"]
    assert found["filename"].endswith("spec.toml") and found["line"] > 1  # at the knob's own line


CLEAN = [
    ("hf-trainer checkpoints every n-th layer",
     '[training]\nactivation_checkpointing = true\ncheckpoint_policy = "every-n"\ncheckpoint_every = 2\n'),
    ("hf-trainer offloads what checkpointing saves",
     '[training]\nactivation_checkpointing = true\nactivation_offload = true\n'),
    ("torchtune full finetune every n-th layer",
     '[training]\nstack = "torchtune"\nprecision = "bf16"\nactivation_checkpointing = true\n'
     'checkpoint_policy = "every-n"\n'),
    ("torchtune full finetune optimizer in backward", '[training]\nstack = "torchtune"\nprecision = "bf16"\n'
     'optimizer_in_backward = true\n'),
    ("torchtune offload with checkpointing",
     '[training]\nstack = "torchtune"\nprecision = "bf16"\nactivation_checkpointing = true\nactivation_offload = true\n'),
    ("litgpt on several GPUs, full checkpointing",
     '[training]\nstack = "litgpt"\nactivation_checkpointing = true\ncheckpoint_policy = "full"\n[hardware]\ncount = 2\n'),
    ("litgpt's own defaults", '[training]\nstack = "litgpt"\nmethod = "lora"\n'),
    ("litgpt generate defaults", '[inference]\nbackend = "litgpt"\n'),
    ("pytorch loop: any checkpoint policy",
     '[training]\nstack = "pytorch"\nactivation_checkpointing = true\ncheckpoint_policy = "selective-op"\n'),
]


@pytest.mark.parametrize("name,body", CLEAN, ids=[c[0] for c in CLEAN])
def test_what_the_stack_runs_is_clean(tmp_path, name, body):
    assert lint(tmp_path, body) == []


def test_transformers_checkpoints_whole_layers_every_n_and_offloads_only_checkpoint_inputs():
    modeling = source("transformers", "transformers/modeling_utils.py")
    assert "layer_index % every_n_layers == 0" in modeling
    assert "with save_on_cpu(pin_memory=True, device_type=device_type):\n                    return checkpoint(" \
        in modeling
    trainer = source("transformers", "transformers/trainer.py")
    assert 'every_n_layers = gc_kwargs.pop("every_n_layers", 1)' in trainer
    assert 'offload = gc_kwargs.pop("offload", False)' in trainer
    assert "selective" not in trainer and "op_sac" not in trainer.lower()


def test_torchtune_selective_ac_is_by_layer_and_only_in_full_finetune():
    activations = source("torchtune", "torchtune/training/activations.py")
    assert "every_x_layer = int(ac_style)" in activations  # "op" fails here
    for recipe in ("lora_finetune_single_device.py", "lora_finetune_distributed.py"):
        text = source("recipes", f"recipes/{recipe}")
        assert "ac_mode" not in text and "optimizer_in_bwd" not in text, recipe
    assert 'ac_mode=cfg.get("ac_mode", None)' in source("recipes", "recipes/full_finetune_distributed.py")


def test_torchtune_recipes_never_skip_the_gradient_sync():
    for recipe in ("lora_finetune_distributed.py", "full_finetune_distributed.py"):
        text = source("recipes", f"recipes/{recipe}")
        assert "no_sync" not in text and "set_requires_gradient_sync" not in text, recipe


def test_litgpt_finetune_has_no_compile_dora_or_single_device_checkpointing():
    lora = source("litgpt", "litgpt/finetune/lora.py")
    assert "torch.compile" not in lora and "dora" not in lora.lower()
    assert "def parallelize_fn(model, device_mesh, activation_checkpointing=True):" in lora
    assert 'strategy = "auto"' in lora
    assert "with fabric.no_backward_sync(model, enabled=is_accumulating):" in lora
    assert "dora" not in source("litgpt", "litgpt/lora.py").lower()


@pytest.mark.parametrize("body,key", [
    ('[training]\nmethod = "full"\n[training.lora]\nrank = 64\n', "training.lora.rank"),
    ('[training]\nmethod = "full"\n[training.lora]\ntargets = ["q_proj"]\n', "training.lora.targets"),
    ('[training]\nmethod = "lora"\n[training.lora]\ndouble_quant = false\n', "training.lora.double_quant"),
    ('[training]\nmethod = "full"\nbase_dtype = "fp32"\n', "training.base_dtype"),
    ('[training]\nprecision = "bf16-mixed"\nmaster_weights_fp32 = true\n', "training.master_weights_fp32"),
    ('[training]\noptimizer = "adamw"\nmomentum = 0.9\n', "training.momentum"),
    ('[inference]\nbackend = "hf"\nshard_embeddings = false\n', "inference.shard_embeddings"),
])
def test_a_knob_that_does_not_apply_is_a_warning_that_says_why(tmp_path, body, key):
    findings = lint(tmp_path, body, "MEM005")
    assert [f["key"] for f in findings] == [key], findings
    assert findings[0]["severity"] == "warning" and " but " in findings[0]["message"] and findings[0]["fix"]


@pytest.mark.parametrize("body", [
    '[training]\nmethod = "qlora"\n[training.lora]\ndouble_quant = false\nrank = 8\n',
    '[training]\nmethod = "lora"\nbase_dtype = "fp32"\n',
    '[training]\nprecision = "bf16"\nmaster_weights_fp32 = true\n',
    '[training]\noptimizer = "sgd"\nmomentum = 0.9\n',
    '[inference]\nbackend = "litgpt"\nshard_embeddings = false\ntensor_parallel = 2\n[hardware]\ncount = 2\n',
])
def test_where_the_knob_applies_it_is_clean(tmp_path, body):
    assert lint(tmp_path, body, "MEM005") == []
