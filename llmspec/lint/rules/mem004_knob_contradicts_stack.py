from __future__ import annotations

from llmspec.lint.rule import Rule
from llmspec.spec.stacks import KNOBS, SUPPORT_KNOBS, Support, engine_supports, stack


class KnobContradictsStack(Rule):
    """A memory knob is set to a value its training stack or serving engine cannot run with.

    Each stack preset (llmspec/data/stacks.toml) and engine (llmspec/data/engines.toml) lists, for some knobs,
    the values it can run with at all, what it does instead and the code that shows it:
    HF Trainer has no optimizer step in backward and no activation offloading, quantises every block linear
    for QLoRA and offers a full or a fused-linear (Liger) loss; LitGPT's finetune scripts always chunk the loss
    and refuse to quantise (QLoRA) under a mixed precision, their own default bf16-mixed included (so a LitGPT
    QLoRA spec must state bf16, fp16 or fp32);
    torchtune runs the whole model in one dtype (bf16 or fp32, no autocast, no fp16), builds its adapters in
    that dtype, and its QLoRA builders quantise every block linear of Llama, Mistral, Gemma and Phi-3 but only
    the adapted ones of Qwen2; vLLM always pages its KV cache and runs a fused attention kernel; llama.cpp
    preallocates its KV cache. The HF Trainer checkpoints whole layers (every one, or every n-th) with no per-op
    policy, offloads activations only with checkpointing, and quantises in blocks of 64; torchtune's LoRA recipes
    checkpoint every layer (every-n only in its full-finetune recipe) and have no optimizer step in backward, it
    offloads only with checkpointing, and its NF4 is torchao's (no fp4, always double-quantised); LitGPT's
    finetune scripts checkpoint every Block on several GPUs and none on one, and have no torch.compile, activation
    offloading, DoRA or tied head, and build adapters and base in the precision's dtype; LitGPT's generate
    scripts preallocate a static cache with its dense mask cache and keep the embedding and head whole; AutoAWQ loads only AWQ int4
    checkpoints (int4 groups, no bitsandbytes nf4 / fp4), and AutoGPTQ's kernels (quant_kernel) are the HF/optimum
    GPTQ integration's (vLLM, AutoAWQ, LitGPT and torchao's generate.py run int4 with their own); torchtitan trains every parameter (no
    LoRA or QLoRA method), takes its loss over full fp32 logits, keeps activations on the GPU and has no fp16. A spec that names the stack or engine and a value it does not support describes
    a run nobody can launch, and its memory estimate would be of that impossible run. Each finding names what
    the stack does and the source.

    Why:
    The estimate follows the knob, not the stack; a contradiction is silently wrong either way. The supported
    values cite the stack's code (transformers 5.24 TrainingArguments, torchtune 0.6.1 recipes and model
    builders, LitGPT 0.5.13, torchtitan at 582fe7d, vLLM 0.10.2, llama.cpp in llama-cpp-python 0.3.16).

    Bad:
    ```toml
    [training]
    stack = "torchtune"
    precision = "bf16-mixed"
    ```

    Good:
    ```toml
    [training]
    stack = "torchtune"
    precision = "bf16"
    ```
    """

    code = "MEM004"
    name = "knob-contradicts-stack"
    severity = "error"

    def check(self, ctx):
        tr = ctx.spec.training
        if tr is not None:
            def read(knob: str):
                if knob == "family":
                    return ctx.spec.model.family
                if knob == "method":
                    return tr.method
                if knob == "devices":  # hardware.count x hardware.nodes
                    hw = ctx.spec.hardware
                    return "one" if hw is None or hw.world_size <= 1 else "several"
                table, field = KNOBS[knob]
                target = tr if table == "training" else tr.lora
                return None if target is None else getattr(target, field)

            for knob, support in stack(tr.stack).supports.items():
                table, field = SUPPORT_KNOBS[knob]
                target = tr if table == "training" else tr.lora
                # a stack default is checked too where the method rules it out: the stack refuses its own default
                # for that method (LitGPT quantises under no mixed precision, bf16-mixed being its default)
                if target is None or (field not in target.model_fields_set
                                      and (support.by != "method" or getattr(target, field) is None)):
                    continue
                key = ("training", field) if table == "training" else ("training", "lora", field)
                yield from self._check(ctx, key, getattr(target, field), support, read,
                                       f"stack {tr.stack!r}", "training.stack",
                                       default=field not in target.model_fields_set)
        inf = ctx.spec.inference
        if inf is not None:
            for field, support in engine_supports(inf.backend).items():
                # an unset knob with a spec default of its own (precision = "bf16") is checked too, at the backend
                # key: AutoAWQ's int4-only loader with an unset precision would be estimated as 16-bit weights
                unset = field not in inf.model_fields_set
                if unset and getattr(inf, field) is None:
                    continue  # filled from the engine's own preset, which it supports
                yield from self._check(ctx, ("inference", field), getattr(inf, field), support,
                                       lambda knob: getattr(inf, knob), f"backend {inf.backend!r}",
                                       "inference.backend", default=unset, at=("inference", "backend"),
                                       whose="the spec's")

    def _check(self, ctx, key: tuple[str, ...], value, support: Support, read, who: str, switch: str,
               default: bool = False, at: tuple[str, ...] | None = None, whose: str | None = None):
        allowed = support.allowed(read(support.by) if support.by else None)
        if allowed is None or value in allowed:
            return
        shown = " or ".join(_show(v) for v in allowed)
        when = f" when {support.by} = {_show(read(support.by))}" if support.by else ""
        owner = whose or f"{who}'s"
        said = f"{'.'.join(key)} is unset and {owner} default is {_show(value)}," if default else \
            f"{'.'.join(key)} = {_show(value)}"
        yield self.finding(
            ctx, (at or ("training", support.by)) if default else key,  # an unset knob: at the key that rules it out
            f"{said} but {who} only runs with {shown}{when} "
            f"({support.source.split(' (')[0]})",
            fix=f"{support.does}: set {'.'.join(key)} = {shown}, or set {switch} to one that runs {_show(value)}",
        )


def _show(value) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


RULE = KnobContradictsStack
