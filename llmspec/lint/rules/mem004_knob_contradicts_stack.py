from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.spec.stacks import KNOBS, stack


class KnobContradictsStack(Rule):
    """A memory knob is set to a value its training stack cannot run with.

    Each stack preset (llmspec/data/stacks.toml) lists, for some knobs, the values the stack supports at all:
    HF Trainer has no optimizer step in backward and no activation offloading, quantises every block linear
    for QLoRA and offers a full or a fused-linear (Liger) loss; LitGPT's finetune scripts always chunk the loss;
    torchtune quantises only adapted linears. A spec that names the stack and a value it does not support
    describes a run nobody can launch, and its memory estimate would be of that impossible run.

    Why:
    The estimate follows the knob, not the stack; a contradiction is silently wrong either way. The supported
    values cite the stack's code (transformers 5.24 TrainingArguments, torchtune 0.6.1 recipes, LitGPT 0.5.13).

    Bad:
    ```toml
    [training]
    stack = "hf-trainer"
    optimizer_in_backward = true
    ```

    Good:
    ```toml
    [training]
    stack = "torchtune"
    optimizer_in_backward = true
    ```
    """

    code = "MEM004"
    name = "knob-contradicts-stack"
    severity = "error"

    def check(self, ctx):
        tr = ctx.spec.training
        if tr is None:
            return
        preset = stack(tr.stack)
        for knob, allowed in preset.supports.items():
            table, field = KNOBS[knob]
            target = tr if table == "training" else tr.lora
            if target is None or field not in target.model_fields_set:
                continue
            value = getattr(target, field)
            if value not in allowed:
                key = ("training", field) if table == "training" else ("training", "lora", field)
                shown = ", ".join(repr(v).lower() if isinstance(v, bool) else repr(v) for v in allowed)
                yield self.finding(
                    ctx, key,
                    f"{'.'.join(key)} = {_show(value)} but stack {tr.stack!r} only runs with {shown}",
                    fix=f"drop {field} to take the stack's value, or set training.stack to one that supports it",
                )


def _show(value) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


RULE = KnobContradictsStack
