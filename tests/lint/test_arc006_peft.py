"""ARC006 against the installed PEFT: for every model type in llmspec's family registry that PEFT has no default
LoRA target modules for, PEFT itself refuses a LoraConfig without target_modules, and `llmspec lint` says so
before the run (read from peft here, in the test, never at lint time)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from llmspec.cli import cli
from llmspec.spec.families import FAMILIES

pytestmark = [pytest.mark.needs("peft"), pytest.mark.needs("transformers")]


def _no_peft_default() -> list[str]:
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as defaults

    return sorted(t for t in FAMILIES if t not in defaults)


def test_the_issues_three_types_have_no_peft_default():
    assert {"qwen2_moe", "qwen3_moe", "olmo"} <= set(_no_peft_default())


# a tiny model of each type, on the meta device (no weights): enough for PEFT to look its modules up
SMALL = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, intermediate_size=32,
             vocab_size=64, moe_intermediate_size=16, shared_expert_intermediate_size=16, num_experts=2,
             num_experts_per_tok=1, eos_token_id=None, pad_token_id=None, bos_token_id=None)


@pytest.mark.parametrize("model_type", ["qwen2_moe", "qwen3_moe", "olmo", "llama"])
def test_peft_refuses_exactly_where_arc006_fires(model_type, tmp_path):
    import peft
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(model_type, **SMALL)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    try:  # what PEFT does with target_modules left unset
        peft.get_peft_model(model, peft.LoraConfig())
        refused = False
    except ValueError as exc:
        assert "target_modules" in str(exc)
        refused = True
    assert refused is (model_type in _no_peft_default())
    spec = tmp_path / "spec.toml"
    config.to_json_file(str(tmp_path / "config.json"))  # the same model, as llmspec reads it (hf_config)
    spec.write_text('version = 1\n[model]\nname = "m"\nhf_config = "config.json"\n\n[training]\nmethod = "lora"\n'
                    'stack = "trl"\n')
    out = CliRunner().invoke(cli, ["lint", str(spec), "--select", "ARC006", "-f", "concise"]).output
    assert (": ARC006 [error]" in out) is refused, out
