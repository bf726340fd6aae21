from __future__ import annotations

from llmspec.estimate.lora_targets import Verdict, resolve
from llmspec.estimate.params import all_linear_targets, attention_targets, module_names
from llmspec.lint.rule import Rule
from llmspec.spec.families import family as registry_family
from llmspec.spec.families import modules_for, tree_for
from llmspec.spec.module_tree import inside, present

KEY = ("training", "lora", "targets")


def _names(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


def classify(arch, family: str | None, targets) -> list[Verdict]:
    """What PEFT does with each target (llmspec.estimate.lora_targets.resolve: the resolution the estimate's
    lora_shapes counts adapters from)."""
    return resolve(arch, family, targets)


def unpaired(family: str | None, targets) -> list[str]:
    """The targets PEFT's MoE conversion fuses (Family.peft_fused) when only some of them are named: PEFT raises
    "Cannot convert PEFT target(s) ... without also targeting ..."."""
    fam = registry_family(family)
    fused = fam.peft_fused if fam is not None else ()
    named = [t for t in targets if t.rsplit(".", 1)[-1] in fused]
    return named if {t.rsplit(".", 1)[-1] for t in named} < set(fused) else []


class LoraTargetsUnmatched(Rule):
    """A LoRA target names no module of the model, or a container module PEFT cannot adapt (an error when the run would crash).

    Checked for `method = "lora"` / `"qlora"`. Targets are Hugging Face module names, and they differ by family:
    the default `["q_proj", "k_proj", "v_proj", "o_proj"]` exists in Llama, Mistral, Qwen, Gemma and OLMo, but
    GPT-2 has `c_attn` / `c_proj` / `c_fc`, GPT-NeoX (Pythia) and Falcon `query_key_value` / `dense` /
    `dense_h_to_4h` / `dense_4h_to_h`, Phi-3 `qkv_proj` / `gate_up_proj`, OPT `out_proj` / `fc1` / `fc2`.
    The output head `lm_head` and the token embedding (`embed_tokens`; GPT-2 `wte`, GPT-NeoX `embed_in`, Falcon
    `word_embeddings`) are modules too: PEFT adapts them when they are named. Every name comes from the family
    registry (`llmspec/spec/families.py`: each class's module tree, checked against `named_modules()` of the real
    transformers class). The family is `model.family` (set from `hf_config`, a preset or `llmspec init`); without
    it Llama's modules are assumed.

    Three outcomes, as PEFT decides them for the whole list:
    - A target that names a container module: an attention or MLP block (`self_attn`, `mlp`, `attn`,
      `attention`), the MoE `experts` (and Qwen2-MoE's router `gate`), a decoder layer or the layer list
      (`layers`, `model.layers`, `h`), a norm, a dropout, an activation or the rotary embedding. PEFT wraps only
      Linear, Embedding and Conv1D layers and raises `ValueError: Target module ... is not supported` at startup,
      whatever the other targets are: an error, whose fix names the linear layers inside the block.
    - Some but not all of the expert names PEFT fuses into one adapter on transformers 5 (Mixtral's `w1` / `w3`,
      Qwen3-MoE's `gate_proj` / `up_proj`): PEFT raises "Cannot convert PEFT target(s) ... without also targeting
      ...": an error. Mixtral's experts answer only to `w1`, `w3`, `w2` there (`gate_proj` matches nothing), and
      on Qwen3-MoE an MLP name adapts the experts, not the dense blocks' linears of that name.
    - No target matches any module (or the list is empty): PEFT stops with "Target modules ... not found in the
      base model": an error.
    - Some targets match and others name nothing (`gate_proj` in a non-gated MLP, the router `gate` in a dense
      model, another family's names): PEFT skips them without a word and the run trains fewer adapters than the
      spec says: a warning.

    A target matches like PEFT's: a module whose path is the target or ends in "." + the target, so dotted
    suffixes (`self_attn.q_proj`, `layers.0.self_attn.v_proj`) select real linears and `mlp.q_proj` selects
    nothing. `["all-linear"]` is PEFT's own selection and always matches. The estimate counts the adapters of
    exactly the modules this rule says a target matches (one resolution serves both).

    Why:
    PEFT matches `target_modules` against module paths (peft.tuners.tuners_utils.check_target_module_exists),
    raises NoMatchingPeftModuleError only when nothing matches, and raises ValueError for a matched module it
    cannot wrap (peft.tuners.lora.model.LoraModel._create_new_module). The module trees are those of the
    transformers implementations (models/<family>/modeling_<family>.py); tests run `peft.get_peft_model` on every
    registry family's real class and check that it raises exactly where this rule says error.

    Bad:
    ```toml
    [model]
    name = "llama-2-7b"
    family = "llama"

    [training]
    method = "lora"

    [training.lora]
    targets = ["self_attn", "mlp"]
    ```

    Good:
    ```toml
    [model]
    name = "llama-2-7b"
    family = "llama"

    [training]
    method = "lora"

    [training.lora]
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
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
        verdicts = classify(arch, family, targets)
        unmatched = [v.target for v in verdicts if v.kind == "unmatched"]
        containers = [v for v in verdicts if v.kind == "container"]
        half = unpaired(family, targets)
        if targets and not unmatched and not containers and not half:
            return
        model = f"this {family} model" if family else "this architecture (model.family not set: Llama's modules)"
        fam = registry_family(family)
        owner = fam.hf_class if fam is not None else "the model"
        real = all_linear_targets(arch, family)
        fix = (f'use {family or "the"} module names: targets = [{_names(attention_targets(arch, family))}] for '
               f'attention, [{_names(real)}] for every linear, or ["all-linear"] (modules of {owner}: '
               f'{_names(module_names(arch, family))})')
        if not family:
            fix += "; if the checkpoint's names differ, set model.family (or hf_config) to its model_type"
        nodes = present(tree_for(family), arch)
        experts = fam.peft_experts if fam is not None else "separate"
        for v in containers:
            held = [n for n in inside(nodes, v.nodes[0], modules_for(family), experts) if n in real] \
                if v.nodes[0].children else []
            paths = ", ".join(dict.fromkeys(n.path for n in v.nodes))
            yield self.finding(
                ctx, self._key(ctx, targets, v.target),
                f'LoRA target "{v.target}" names a container module of {model} ({paths}), not a Linear, '
                'Embedding or Conv1D layer: PEFT raises "ValueError: Target module ... is not supported" at '
                "startup",
                fix=(f"name the linear layers inside it instead: [{_names(held)}]; or " if held else
                     "remove it (a norm, dropout, activation or rotary embedding takes no adapter); ") + fix,
            )
        if half:
            fam_fused = fam.peft_fused if fam is not None else ()
            missing = [n for n in fam_fused if n not in {t.rsplit(".", 1)[-1] for t in half}]
            yield self.finding(
                ctx, self._key(ctx, targets, half[0]),
                f"LoRA target{'s' if len(half) > 1 else ''} [{_names(half)}] without [{_names(missing)}]: "
                f"{owner} fuses them into one gate_up_proj parameter per expert, and PEFT raises \"Cannot convert "
                f"PEFT target(s) {', '.join(half)} without also targeting {', '.join(missing)}\" at startup",
                fix=f"name them together: [{_names(fam_fused)}]; or " + fix,
            )
        if targets and not unmatched:
            return
        key = self._key(ctx, targets, unmatched[0] if unmatched else "")
        if len(unmatched) == len(verdicts):  # verdicts: one per distinct target
            what = f"LoRA targets [{_names(targets)}] match" if targets else "an empty targets list matches"
            yield self.finding(
                ctx, key,
                f"{what} no module of {model}: PEFT stops with \"Target modules ... not found\" and there are "
                "0 trainable parameters",
                fix=fix,
            )
            return
        matched = [v.target for v in verdicts if v.kind == "matched"]
        several = len(unmatched) > 1
        rest = f"PEFT skips {'them' if several else 'it'} silently and adapts only [{_names(matched)}]"
        if containers:
            rest = f"PEFT would skip {'them' if several else 'it'} silently, but stops at the container target first"
        yield self.finding(
            ctx, key,
            f"LoRA target{'s' if several else ''} [{_names(unmatched)}] {'match' if several else 'matches'} no "
            f"module of {model}; {rest}",
            fix=fix,
            severity="warning" if self.level == "error" else self.level,
        )

    @staticmethod
    def _key(ctx, targets, target: str) -> tuple:
        """The target's own position when written, else the [training.lora] table, else the method that asked
        for LoRA (locate falls back to the enclosing key or table)."""
        if ctx.set(*KEY):
            return KEY + (list(targets).index(target),) if target in targets else KEY
        if ctx.set("training", "lora"):
            return KEY
        return ("training", "method")


RULE = LoraTargetsUnmatched
