from __future__ import annotations

from llmspec.estimate.params import lora_shapes, peft_experts
from llmspec.lint.rule import Rule
from llmspec.spec.stacks import stack

_WHAT = {"expert.gate_up": "experts' gate_up_proj", "expert.down": "experts' down_proj", "router": "router"}


class LoraDropoutOnFusedExperts(Rule):
    """LoRA with dropout adapts the fused MoE experts of a family whose experts PEFT wraps as parameters.

    Checked for `method = "lora"` / `"qlora"` on a stack that builds its adapters with PEFT (TRL, axolotl,
    LLaMA-Factory, the HF Trainer), when the targets reach the MoE experts (by the names PEFT maps onto their fused
    3-D parameters: gate_proj / up_proj / down_proj on Qwen3-MoE, w1 / w3 / w2 on Mixtral) or the router (`gate`),
    named or through "all-linear", of a family whose transformers class stores them as parameters (the family
    registry's `peft_experts = "fused"`: Mixtral and Qwen3-MoE in transformers 5), and `lora.dropout` is above 0.
    PEFT adapts such a parameter with `lora.ParamWrapper`, which cannot apply dropout to its input and stops at
    startup, so the run never trains.

    Why:
    peft==0.21.2:src/peft/tuners/lora/layer.py:ParamWrapper.__init__ raises `ValueError("lora.ParamWrapper does
    not work with lora_dropout != 0.")`: the input cannot be factored out of lora_B(lora_A(dropout(x))).

    Bad:
    ```toml
    extends = "preset:Qwen3-30B-A3B"

    [training]
    method = "lora"
    stack = "trl"

    [training.lora]
    targets = ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"]
    dropout = 0.05
    ```

    Good:
    ```toml
    extends = "preset:Qwen3-30B-A3B"

    [training]
    method = "lora"
    stack = "trl"

    [training.lora]
    targets = ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"]
    dropout = 0.0
    ```
    """

    code = "ARC007"
    name = "lora-dropout-fused-experts"
    severity = "error"

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.method not in ("lora", "qlora") or training.lora is None:
            return
        if not training.lora.dropout or stack(training.stack).adapters.value != "peft":
            return
        family = ctx.spec.model.family
        if ctx.spec.arch.moe is None or peft_experts(family) != "fused":
            return
        wrapped = {s.role for s in lora_shapes(ctx.spec.arch, training.lora.targets, family)
                   if s.role.startswith("expert.") or s.role == "router"}
        if not wrapped:
            return
        key = ("training", "lora", "dropout") if ctx.set("training", "lora", "dropout") else ("training", "lora")
        yield self.finding(
            ctx, key,
            f"lora.dropout = {training.lora.dropout:g} with targets that reach the {' and '.join(sorted(_WHAT[r] for r in wrapped))} "
            f"of {family!r}, which PEFT adapts as parameters: its lora.ParamWrapper stops with \"does not work with "
            "lora_dropout != 0\"",
            fix="set training.lora.dropout = 0.0, or leave the experts and the router out of training.lora.targets "
                "(e.g. attention only)",
        )


RULE = LoraDropoutOnFusedExperts
