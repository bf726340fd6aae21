"""ARC007 against the installed PEFT: on the families whose experts transformers stores as 3-D parameters, PEFT
stops exactly when the LoRA targets reach the experts with dropout above 0, and `llmspec lint` says so before the
run (PEFT is imported here, in the test, never at lint time)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from llmspec.cli import cli

pytestmark = [pytest.mark.needs("peft"), pytest.mark.needs("transformers")]

SMALL = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, intermediate_size=32,
             vocab_size=64, moe_intermediate_size=16, num_experts=4, num_local_experts=4, num_experts_per_tok=2,
             eos_token_id=None, pad_token_id=None, bos_token_id=None)
# the experts by the names PEFT maps onto the fused parameters (peft==0.21.2:src/peft/utils/
# transformers_weight_conversion.py:_MOE_TARGET_MODULE_MAPPING; qwen3_moe converts as qwen2_moe)
EXPERTS = {"qwen3_moe": ["gate_proj", "up_proj", "down_proj"], "mixtral": ["w1", "w2", "w3"]}
TARGETS = {"attention": ["q_proj", "v_proj"], "all-linear": "all-linear", "router": ["gate"]}


@pytest.mark.parametrize("model_type", ["qwen3_moe", "mixtral"])
@pytest.mark.parametrize("targets", sorted([*TARGETS, "experts"]))
@pytest.mark.parametrize("dropout", [0.0, 0.05])
def test_peft_refuses_exactly_where_arc007_fires(model_type, targets, dropout, tmp_path):
    import peft
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(model_type, **SMALL)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    names = EXPERTS[model_type] if targets == "experts" else TARGETS[targets]
    try:
        peft.get_peft_model(model, peft.LoraConfig(target_modules=names, lora_dropout=dropout))
        refused = False
    except ValueError as exc:  # only the dropout refusal is this rule's; "not found" is ARC005's
        refused = "lora_dropout" in str(exc)
    config.to_json_file(str(tmp_path / "config.json"))  # the same model, as llmspec reads it (hf_config)
    written = '"all-linear"' if targets == "all-linear" else ", ".join(f'"{t}"' for t in names)
    spec = tmp_path / "spec.toml"
    spec.write_text('version = 1\n[model]\nname = "m"\nhf_config = "config.json"\n\n[training]\nmethod = "lora"\n'
                    f'stack = "trl"\n\n[training.lora]\ntargets = [{written}]\ndropout = {dropout}\n')
    out = CliRunner().invoke(cli, ["lint", str(spec), "--select", "ARC007", "-f", "concise"]).output
    assert (": ARC007 [error]" in out) is refused, out
    assert refused is (dropout > 0 and targets != "attention")  # PEFT's own answers, pinned: both kinds occur
