"""The family registry (llmspec/spec/families.py) against the real transformers classes and PEFT, and its presets
as `llmspec init --preset` / `extends = "preset:NAME"` sources."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from params_checkpoints import load

from llmspec.cli import cli
from llmspec.estimate.params import count_params, module_names
from llmspec.spec.families import FAMILIES, PRESETS, UnknownPreset, preset
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.loader import load_spec
from llmspec.spec.models import Architecture


def small(config: dict) -> dict:
    """The preset's config with 2 layers (module names and classes do not depend on depth)."""
    out = dict(config)
    for key in ("num_hidden_layers", "n_layer"):
        if key in out:
            out[key] = 2
    return out


def meta_model(config: dict):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = dict(config)
    model_type = config.pop("model_type")
    config.pop("architectures", None)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **config))


def presets_of(model_type: str) -> list[str]:
    return [p.name for p in PRESETS.values() if p.config()["model_type"] == model_type]


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_every_family_has_a_preset_whose_config_names_its_class(model_type):
    names = presets_of(model_type)
    assert names, f"{model_type} has no preset (a real config.json) in the registry"
    for name in names:
        config = PRESETS[name].config()
        assert config["architectures"] == [FAMILIES[model_type].hf_class]
        assert architecture_from_hf(config)[0] == model_type


@pytest.mark.eval
@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_registry_class_and_module_names_are_the_real_ones(model_type):
    """AutoModelForCausalLM builds the registry's class, and every LoRA target name of the registry that exists in
    the architecture is a module of that class (lm_head and the embeddings included)."""
    config = small(PRESETS[presets_of(model_type)[0]].config())
    model = meta_model(config)
    assert type(model).__name__ == FAMILIES[model_type].hf_class
    leaves = {name.rsplit(".", 1)[-1] for name, _ in [*model.named_modules(), *model.named_parameters()]}
    # transformers-5 fused experts: the names PEFT's conversion maps onto them (Mixtral's w1 / w3 / w2, Qwen3-MoE's
    # gate_proj / up_proj / down_proj), read from PEFT's own table
    from peft.utils import transformers_weight_conversion as conversion

    pattern = conversion._MODEL_TO_CONVERSION_PATTERN.get(model_type)
    leaves |= set(conversion._MOE_TARGET_MODULE_MAPPING.get(pattern, {})) if pattern else set()
    arch = Architecture(**architecture_from_hf(config)[1])
    names = module_names(arch, model_type)
    assert "lm_head" in names
    assert set(names) <= leaves, set(names) - leaves


@pytest.mark.eval
@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_peft_default_targets_are_pefts(model_type):
    pytest.importorskip("peft")
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft_defaults

    expected = peft_defaults.get(model_type)
    assert FAMILIES[model_type].peft_targets == (tuple(expected) if expected else None)


@pytest.mark.eval
@pytest.mark.parametrize("target", ["lm_head", "embed_tokens"])
def test_lm_head_and_embedding_adapters_count_as_peft_builds_them(target):
    from peft import LoraConfig, get_peft_model

    from llmspec.spec.models import Lora, Training

    config = small(load("Llama-2-7b-hf"))
    arch = Architecture(**architecture_from_hf(config)[1])
    training = Training(method="lora", lora=Lora(rank=8, targets=[target]))
    ours = count_params(arch, training, family="llama")
    peft_model = get_peft_model(meta_model(config), LoraConfig(r=8, target_modules=[target]))
    assert ours.trainable == sum(p.numel() for p in peft_model.parameters() if p.requires_grad) > 0
    assert ours.unmatched_targets == ()


def test_preset_names_are_case_insensitive_and_unknown_ones_suggest():
    assert preset("llama-2-7b").name == "Llama-2-7B"
    with pytest.raises(UnknownPreset, match='did you mean "Mistral-7B"'):
        preset("Mistal-7B")


def test_init_preset_writes_the_presets_architecture(tmp_path):
    out = tmp_path / "spec.toml"
    result = CliRunner().invoke(cli, ["init", "--preset", "OPT-1.3B", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "facebook/opt-1.3b" in text.splitlines()[1]
    spec = load_spec(out)
    family, arch = architecture_from_hf(load("opt-1.3b"))
    assert (spec.model.family, spec.arch) == (family, Architecture(**arch))
    assert spec.model.parameters == count_params(spec.arch).total


@pytest.mark.parametrize("args", [["--preset", "Lama-2-7B"], ["--preset", "x", "--from-hf", "config.json"], []])
def test_init_bad_preset_or_both_sources_is_one_line_exit_2(args):
    result = CliRunner().invoke(cli, ["init", *args])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    if args[:2] == ["--preset", "Lama-2-7B"]:
        assert 'did you mean "Llama-2-7B"' in result.output


def test_extends_preset_gives_the_architecture_and_the_spec_wins(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('extends = "preset:Qwen2.5-7B"\n\n[model]\nname = "bot"\n\n[model.architecture]\n'
                    "context_length = 8192\n", encoding="utf-8")
    spec = load_spec(path)
    family, arch = architecture_from_hf(load("Qwen2.5-7B"))
    assert spec.model.name == "bot" and spec.model.family == family
    assert spec.arch == Architecture(**{**arch, "context_length": 8192})


def test_extends_unknown_preset_is_a_located_error_exit_2(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('# base\n\n\n\nextends = "preset:Llama-3-7B"\n[model]\nname = "bot"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2
    assert "spec.toml:5:1: extends: unknown preset 'Llama-3-7B'; did you mean" in result.output
