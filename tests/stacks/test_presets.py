"""Each stack preset (llmspec/data/stacks.toml) against the real package default, where the package is installed.

transformers, peft, torch and trl are imported and asked; torchtune and litgpt pull in CUDA-only dependencies
(torchao, lightning), so their installed files are read as text (configs as YAML, code with ast) without being
imported. A package that is not installed is a visible skip with its reason, never a pass.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import re
import typing
from pathlib import Path

import pytest
import yaml

from llmspec.spec import stacks
from llmspec.spec.families import FAMILIES
from llmspec.spec.models import StackName, Training

# package==version:path:symbol, or owner/repo@commit:path:symbol for code without a release at that commit (torchtitan)
SOURCE = re.compile(r"^(?:[\w.-]+==[\w.]+|[\w.-]+/[\w.-]+@[0-9a-f]{40}):[\w./-]+\.\w+:[A-Za-z_][\w.]*")


def _installed(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        pytest.skip(f"{name} is not installed here; its preset values cite its source instead")
    return Path(spec.origin).parent


def test_every_stack_name_has_a_preset_and_back():
    assert set(typing.get_args(StackName)) == set(stacks.names())


@pytest.mark.parametrize("name", stacks.names())
def test_every_default_cites_package_version_path_symbol_and_validates(name):
    preset = stacks.stack(name)
    assert preset.defaults, name
    for knob, default in preset.defaults.items():
        assert knob in stacks.KNOBS
        assert SOURCE.match(default.source), (name, knob, default.source)
    for attr in (preset.model_code, preset.adapters):  # whose model classes and adapters: cited the same way
        assert SOURCE.match(attr.source), (name, attr)
    assert preset.lora_targets.value is None or SOURCE.match(preset.lora_targets.source), (name, preset.lora_targets)
    t = Training.model_validate({"stack": name, "method": "qlora"})
    for knob, default in preset.defaults.items():
        table, field = stacks.KNOBS[knob]
        assert getattr(t if table == "training" else t.lora, field) == stacks.value_for(default, t.precision)
    for knob, support in preset.supports.items():  # what it cannot run cites its source too (MEM004)
        assert knob in stacks.SUPPORT_KNOBS and support.values and support.does, (name, knob)
        assert SOURCE.match(support.source), (name, knob, support.source)
        assert support.by in ("", "family", "method", "devices", *stacks.KNOBS), (name, knob)
        # a stack supports its own default (by method it may not: LitGPT refuses its bf16-mixed for QLoRA; MEM004
        # says so, tests/lint/cases/MEM004.toml)
        if knob in preset.defaults and support.by == "devices":  # on one device and on several
            for devices, key in ((1, "one"), (8, "several")):
                value = stacks.value_for(preset.defaults[knob], t.precision, devices)
                assert value in support.allowed(key), (name, knob, devices)
        elif knob in preset.defaults and support.by not in ("family", "method"):
            other = getattr(t, stacks.KNOBS[support.by][1]) if support.by else None
            assert stacks.value_for(preset.defaults[knob], t.precision) in support.allowed(other), (name, knob)


def test_spec_value_wins_over_the_stack_and_is_not_reported_as_from_the_stack():
    t = Training.model_validate({"stack": "torchtune", "loss": "full", "activation_checkpointing": False})
    assert t.loss == "full" and t.activation_checkpointing is False
    assert "loss" not in t.stack_sources() and "activation_checkpointing" not in t.stack_sources()
    assert t.stack_sources()["optimizer_impl"].startswith("torchtune==0.6.1:")


def test_hf_trainer_optimizer_is_transformers_default(tmp_path):
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True)
    preset = stacks.stack("hf-trainer").defaults
    assert str(args.optim.value if hasattr(args.optim, "value") else args.optim) == "adamw_torch_fused"
    assert preset["optimizer_impl"].value == "fused"
    assert preset["compile"].value is args.torch_compile is False
    assert preset["activation_checkpointing"].value is args.gradient_checkpointing is False


def test_hf_trainer_paged_optimizer_and_loss_are_transformers_defaults(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM, TrainingArguments
    from transformers.loss.loss_utils import ForCausalLMLoss

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True)
    preset = stacks.stack("hf-trainer").defaults
    optim = str(args.optim.value if hasattr(args.optim, "value") else args.optim)
    # paged only for optim="paged_adamw*" (the bitsandbytes paged optimizers); the default is not one of them
    assert preset["paged_optimizer"].value is ("paged" in optim) is False
    assert any("paged" in str(o.value) for o in type(args.optim))  # the paged names do exist in this version
    # loss "full": no Liger fused linear cross-entropy unless asked, and the causal-LM loss upcasts the logits of
    # every position (logits_to_keep = 0 keeps all of them in training)
    assert args.use_liger_kernel is False and preset["loss"].value == "full"
    cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, vocab_size=64)
    model = LlamaForCausalLM(cfg)
    assert model.loss_function is ForCausalLMLoss
    assert "logits = logits.float()" in inspect.getsource(ForCausalLMLoss)
    assert inspect.signature(LlamaForCausalLM.forward).parameters["logits_to_keep"].default == 0


def test_hf_trainer_qlora_quantises_every_block_linear_but_the_head():
    # transformers' bitsandbytes 4-bit quantizer with a default BitsAndBytesConfig: get_modules_to_not_convert
    # leaves out the output embedding (and tied weights), replace_with_bnb_linear converts every other nn.Linear.
    # bitsandbytes itself is not installed here (CUDA), so the replacement is not run: the modules it would
    # replace are the ones should_convert_module admits, which is the selection replace_with_bnb_linear applies.
    # (BitsAndBytesConfig's own default format is fp4 without double quantisation; a QLoRA spec's lora.quant_format
    # / double_quant describe the QLoRA recipe, nf4 + double quant, which users set explicitly.)
    import torch
    from transformers import BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM
    from transformers.quantizers.quantizer_bnb_4bit import Bnb4BitHfQuantizer
    from transformers.quantizers.quantizers_utils import should_convert_module

    from llmspec.estimate.shapes import layout
    from llmspec.spec.models import Architecture

    cfg = LlamaConfig(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=96)
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg)
    q = BitsAndBytesConfig(load_in_4bit=True)
    skip = Bnb4BitHfQuantizer.get_modules_to_not_convert(model, q.llm_int8_skip_modules, model._keep_in_fp32_modules)
    converted = {n: m.weight.numel() for n, m in model.named_modules()
                 if type(m) is torch.nn.Linear and should_convert_module(n, skip)}
    assert "lm_head" not in converted and len(converted) == 2 * 7
    arch = Architecture(n_layers=2, d_model=64, n_heads=4, n_kv_heads=2, ffn_dim=160, vocab_size=96,
                        context_length=128)
    assert sum(converted.values()) == layout(arch).block_linear_numel  # what "all-linear" quantises
    assert stacks.stack("hf-trainer").defaults["qlora_quantize"].value == "all-linear"


def test_hf_trainer_and_accelerate_defer_fsdp_gradient_sync():
    # Trainer wraps every micro-batch but the last in accelerator.no_sync unless the accumulation plugin's
    # sync_each_batch is set, and accelerate's plugin defaults it to False
    utils = pytest.importorskip("accelerate.utils", reason="accelerate is not installed here")
    trainer = pytest.importorskip("transformers.trainer", reason="transformers is not installed here")
    assert utils.GradientAccumulationPlugin().sync_each_batch is False
    assert 'plugin_kwargs.get("sync_each_batch", False)' in inspect.getsource(trainer.Trainer)
    assert "no_sync" in inspect.getsource(trainer.Trainer)
    for name in ("hf-trainer", "trl", "axolotl", "llamafactory", "accelerate"):
        assert stacks.stack(name).defaults["sync_each_batch"].value is False
    assert stacks.stack("pytorch").defaults["sync_each_batch"].value is True


def test_trl_turns_gradient_checkpointing_on():
    trl = pytest.importorskip("trl", reason="trl is not installed here")
    from trl import SFTConfig

    fields = {f.name: f.default for f in dataclasses.fields(SFTConfig)}
    preset = stacks.stack("trl").defaults
    assert fields["gradient_checkpointing"] is preset["activation_checkpointing"].value is True
    assert fields["optim"] == "adamw_torch_fused" and preset["optimizer_impl"].value == "fused"
    assert fields["activation_offloading"] is False and fields["use_liger_kernel"] is False
    assert trl.__version__ == "1.16.0"


def test_peft_keeps_adapters_fp32_on_a_bf16_model():
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    assert inspect.signature(get_peft_model).parameters["autocast_adapter_dtype"].default is True
    cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, vocab_size=64)
    model = get_peft_model(LlamaForCausalLM(cfg).to(torch.bfloat16), LoraConfig(r=2, target_modules=["q_proj"]))
    dtypes = {p.dtype for n, p in model.named_parameters() if "lora_" in n}
    assert dtypes == {torch.float32}
    assert stacks.stack("hf-trainer").defaults["lora_dtype"].value == "fp32"
    assert stacks.stack("pytorch").defaults["lora_dtype"].value == "fp32"


@pytest.mark.parametrize("model_type", list(FAMILIES))
def test_unset_lora_targets_take_peft_default_for_the_family_on_peft_stacks(model_type):
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft_targets

    from llmspec.spec.families import PRESETS, preset_spec
    from llmspec.spec.models import Spec

    name = next((p for p in PRESETS if preset_spec(p)["model"]["family"] == model_type), None)
    if name is None:
        pytest.skip(f"no preset of {model_type}")
    tables = preset_spec(name)
    for stack_name in ("hf-trainer", "pytorch", "litgpt"):
        spec = Spec.model_validate({**tables, "training": {"method": "lora", "stack": stack_name}})
        expected = peft_targets.get(model_type)
        if stack_name == "litgpt":  # LitGPT's own adapters: its finetune script's lora_query and lora_value
            assert spec.training.lora.targets == ["q_proj", "v_proj"]
        elif expected is None:  # PEFT asks for target_modules: lora.targets' own default
            assert spec.training.lora.targets == ["q_proj", "k_proj", "v_proj", "o_proj"]
        else:
            assert sorted(spec.training.lora.targets) == sorted(expected)
        assert "targets" not in spec.training.lora.model_fields_set
        told = Spec.model_validate({**tables, "training": {"method": "lora", "lora": {"targets": ["all-linear"]}}})
        assert told.training.lora.targets == ["all-linear"]


def test_torch_adamw_without_flags_is_foreach_on_cuda():
    from torch.optim.optimizer import _default_to_fused_or_foreach

    # CUDA parameters cannot exist here; an empty list passes every per-parameter device check, which is the
    # CUDA path (on CPU tensors torch picks the for-loop, which is why measure.py sets the flag explicitly).
    fused, foreach = _default_to_fused_or_foreach([], differentiable=False, use_fused=False)
    assert (fused, foreach) == (False, True)
    assert stacks.stack("pytorch").defaults["optimizer_impl"].value == "foreach"


def test_torchtune_preset_is_its_shipped_config():
    recipes = _installed("recipes")
    cfg = yaml.safe_load((recipes / "configs/llama3_1/8B_lora_single_device.yaml").read_text(encoding="utf-8"))
    preset = stacks.stack("torchtune").defaults
    assert cfg["optimizer"]["_component_"] == "torch.optim.AdamW" and cfg["optimizer"]["fused"] is True
    assert preset["optimizer_impl"].value == "fused" and preset["paged_optimizer"].value is False
    assert cfg["loss"]["_component_"].endswith("CEWithChunkedOutputLoss") and preset["loss"].value == "chunked"
    assert cfg["enable_activation_checkpointing"] is preset["activation_checkpointing"].value is True
    assert cfg["enable_activation_offloading"] is preset["activation_offload"].value is False
    assert cfg["compile"] is preset["compile"].value is False
    assert cfg["dtype"] == preset["precision"].value == "bf16"
    loss_src = (_installed("torchtune") / "modules/loss/ce_chunked_output_loss.py").read_text(encoding="utf-8")
    init = next(n for n in ast.walk(ast.parse(loss_src)) if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    defaults = dict(zip([a.arg for a in init.args.args][-len(init.args.defaults):], init.args.defaults, strict=True))
    assert ast.literal_eval(defaults["num_output_chunks"]) == preset["loss_chunks"].value == 8


# torchtune 0.6.1's model folders behind each family of the torchtune qlora_quantize table
TORCHTUNE_BUILDERS = {"llama": ("llama2", "llama3", "llama3_1"), "mistral": ("mistral",), "gemma": ("gemma",),
                      "gemma2": ("gemma2",), "phi3": ("phi3",), "qwen2": ("qwen2",)}


@pytest.mark.parametrize("family", TORCHTUNE_BUILDERS)
def test_torchtune_qlora_layout_per_family_is_its_component_builders(family):
    # quantize_base makes an unadapted block linear a FrozenNF4Linear in every builder but Qwen2's; the one table
    # (supports, by family) is also the default (stacks.implied), so there is no second copy to drift
    support = stacks.stack("torchtune").supports["qlora_quantize"]
    assert "qlora_quantize" not in stacks.stack("torchtune").defaults
    for folder in TORCHTUNE_BUILDERS[family]:
        code = (_installed("torchtune") / "models" / folder / "_component_builders.py").read_text(encoding="utf-8")
        every = "else FrozenNF4Linear(" in code or "if not quantize_base else FrozenNF4Linear(" in code
        assert support.allowed(family) == (("all-linear",) if every else ("adapted",)), (family, folder)
    t = Training.model_validate({"stack": "torchtune", "method": "qlora"})
    t.fill_implied(lambda knob: family if knob == "family" else None)
    assert t.lora is not None and t.lora.quantize == support.allowed(family)[0]


def test_litgpt_preset_is_its_finetune_script():
    root = _installed("litgpt")
    lora = (root / "finetune/lora.py").read_text(encoding="utf-8")
    utils = (root / "utils.py").read_text(encoding="utf-8")
    preset = stacks.stack("litgpt").defaults
    assert "lm_head_chunk_size=128" in lora and preset["loss"].value == "chunked"
    fn = next(n for n in ast.walk(ast.parse(utils)) if isinstance(n, ast.FunctionDef) and n.name == "chunked_cross_entropy")
    names = [a.arg for a in fn.args.args]
    chunk = ast.literal_eval(fn.args.defaults[names[len(names) - len(fn.args.defaults):].index("chunk_size")])
    assert chunk == preset["loss_chunk_tokens"].value == 128
    assert 'return "bf16-mixed" if training else "bf16-true"' in utils and preset["precision"].value == "bf16-mixed"


def test_docs_carry_the_current_preset_tables():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "estimate.md").read_text(encoding="utf-8")
    current = doc.split("<!-- stacks:begin -->\n", 1)[1].split("<!-- stacks:end -->", 1)[0]
    assert current == stacks.markdown(), "regenerate the block in docs/estimate.md with: python -m llmspec.spec.stacks"
