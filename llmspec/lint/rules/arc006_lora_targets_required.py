from __future__ import annotations

from llmspec.estimate.params import attention_targets
from llmspec.lint.rule import Rule
from llmspec.spec.families import family as registry_family
from llmspec.spec.stacks import stack


class LoraTargetsRequired(Rule):
    """LoRA on a PEFT stack leaves the targets unset for a model type PEFT has no default targets for.

    Checked for `method = "lora"` / `"qlora"` when `[training.lora] targets` is not written and the stack builds its
    adapters with PEFT (TRL, axolotl, LLaMA-Factory, the HF Trainer). PEFT then looks the model type up in its
    own table of default target modules. Some model types have no entry there: `qwen2_moe`, `qwen3_moe` and
    `olmo`, for example. For these, PEFT stops at startup. llmspec's estimate would still assume the separate
    q/k/v/o projections, so the run it checks is not the run that happens. The model type is `model.family` (from
    `hf_config`, a preset or `llmspec init`); which types have no PEFT default is in the family registry
    (`llmspec/spec/families.py`, `peft_targets = None`), checked against the installed PEFT by the tests.

    Why:
    PEFT's `BaseTuner._prepare_adapter_config` reads `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`
    (peft/utils/constants.py) when `target_modules` is None, and raises `ValueError("Please specify
    `target_modules` in `peft_config`")` for a model type that is not in it (peft/tuners/tuners_utils.py).

    Bad:
    ```toml
    [model]
    name = "olmo-1b"
    family = "olmo"

    [training]
    method = "lora"
    stack = "trl"
    ```

    Good:
    ```toml
    [model]
    name = "olmo-1b"
    family = "olmo"

    [training]
    method = "lora"
    stack = "trl"

    [training.lora]
    targets = ["q_proj", "k_proj", "v_proj", "o_proj"]
    ```
    """

    code = "ARC006"
    name = "lora-targets-required"
    severity = "error"

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.method not in ("lora", "qlora") or training.lora is None:
            return
        if ctx.set("training", "lora", "targets") or stack(training.stack).adapters.value != "peft":
            return
        fam = registry_family(ctx.spec.model.family)
        if fam is None or fam.peft_targets is not None:
            return
        key = ("training", "lora") if ctx.set("training", "lora") else ("training", "method")
        names = ", ".join(f'"{n}"' for n in attention_targets(ctx.spec.arch, fam.model_type))
        yield self.finding(
            ctx, key,
            f"LoRA targets are not set and PEFT has no default target modules for model type {fam.model_type!r}: "
            "PEFT stops with \"Please specify `target_modules` in `peft_config`\" (the estimate assumes "
            f"{', '.join(training.lora.targets)})",
            fix=f"set training.lora.targets, e.g. [{names}] (attention) or [\"all-linear\"]",
        )


RULE = LoraTargetsRequired
