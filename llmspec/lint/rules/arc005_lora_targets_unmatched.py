from __future__ import annotations

from llmspec.estimate.params import all_linear_targets, attention_targets, module_names
from llmspec.lint.rule import Rule
from llmspec.spec.families import family as registry_family

KEY = ("training", "lora", "targets")


def _names(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


class LoraTargetsUnmatched(Rule):
    """A LoRA target names no module of the model's architecture (an error when none of them does).

    Checked for `method = "lora"` / `"qlora"`. Targets are Hugging Face module names, and they differ by family:
    the default `["q_proj", "k_proj", "v_proj", "o_proj"]` exists in Llama, Mistral, Qwen, Gemma and OLMo, but
    GPT-2 has `c_attn` / `c_proj` / `c_fc`, GPT-NeoX (Pythia) and Falcon `query_key_value` / `dense` /
    `dense_h_to_4h` / `dense_4h_to_h`, Phi-3 `qkv_proj` / `gate_up_proj`, OPT `out_proj` / `fc1` / `fc2`.
    The output head `lm_head` and the token embedding (`embed_tokens`; GPT-2 `wte`, GPT-NeoX `embed_in`, Falcon
    `word_embeddings`) are modules too: PEFT adapts them when they are named. Every name comes from the family
    registry (`llmspec/spec/families.py`), checked against the real transformers classes. The family is
    `model.family` (set from `hf_config`, a preset or `llmspec init`); without it the separate q/k/v/o names are
    assumed. A name can also miss because the architecture lacks the module: `gate_proj` in a non-gated MLP,
    the router `gate` in a dense model. When no target matches, PEFT stops at startup ("Target modules ... not
    found in the base model") and there is nothing to train; when some match, the others are skipped without a
    word and the run trains fewer adapters than the spec says.

    Why:
    PEFT matches `target_modules` against module names (peft.tuners.tuners_utils.BaseTuner.inject_adapter,
    `check_target_module_exists`) and raises NoMatchingPeftModuleError only when nothing matches. The module
    names are those of the transformers implementations (models/<family>/modeling_<family>.py), the same
    layouts llmspec.estimate.params counts adapters on (checked against PEFT on meta-device models).

    Bad:
    ```toml
    [model]
    name = "pythia-1.4b"
    family = "gpt_neox"

    [training]
    method = "lora"

    [training.lora]
    targets = ["q_proj", "v_proj"]
    ```

    Good:
    ```toml
    [model]
    name = "pythia-1.4b"
    family = "gpt_neox"

    [training]
    method = "lora"

    [training.lora]
    targets = ["query_key_value", "dense"]
    ```
    """

    code = "ARC005"
    name = "lora-targets-unmatched"
    severity = "error"

    def check(self, ctx):
        training = ctx.spec.training
        if training is None or training.method not in ("lora", "qlora") or training.lora is None:
            return
        targets = training.lora.targets
        if "all-linear" in targets:
            return
        arch, family = ctx.spec.arch, ctx.spec.model.family
        unmatched = ctx.params.unmatched_targets
        if targets and not unmatched:
            return
        # the first unmatched target when written, else the [training.lora] table, else the method that asked
        # for LoRA (locate falls back to the enclosing key or table)
        key: tuple = ("training", "method")
        if ctx.set(*KEY):
            key = KEY + (targets.index(unmatched[0]),) if unmatched else KEY
        elif ctx.set("training", "lora"):
            key = KEY
        model = f"this {family} model" if family else "this architecture (model.family not set: q/k/v/o names)"
        real = all_linear_targets(arch, family)
        attention = attention_targets(arch, family)
        modules = module_names(arch, family)
        fam = registry_family(family)
        owner = fam.hf_class if fam is not None else "the model"
        fix = (f'use {family or "the"} module names: targets = [{_names(attention)}] for attention, '
               f'[{_names(real)}] for every linear, or ["all-linear"] (modules of {owner}: '
               f'{_names(modules)})')
        if not family:
            fix += "; if the checkpoint's names differ, set model.family (or hf_config) to its model_type"
        if len(unmatched) == len(targets):
            what = f"LoRA targets [{_names(targets)}] match" if targets else "an empty targets list matches"
            yield self.finding(
                ctx, key,
                f"{what} no module of {model}: PEFT stops with \"Target modules ... not found\" and there are "
                "0 trainable parameters",
                fix=fix,
            )
            return
        matched = [t for t in targets if t not in unmatched]
        yield self.finding(
            ctx, key,
            f"LoRA target{'s' if len(unmatched) > 1 else ''} [{_names(unmatched)}] "
            f"{'match' if len(unmatched) > 1 else 'matches'} no module of {model}; PEFT skips "
            f"{'them' if len(unmatched) > 1 else 'it'} silently and adapts only [{_names(matched)}]",
            fix=fix,
            severity="warning" if self.level == "error" else self.level,
        )


RULE = LoraTargetsUnmatched
