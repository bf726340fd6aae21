from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("inference", "kv_cache_tokens")


class KvCacheTokens(Rule):
    """A static KV cache of inference.kv_cache_tokens cannot hold the prompt and the new tokens, or is longer than
    the context window.

    `inference.kv_cache_tokens` is the length a static-cache engine preallocates per sequence (torchao
    generate.py's cache_size, AutoAWQ's max_seq_len, HF StaticCache's max_cache_len). It must hold the longest
    prompt (`inference.prompt_tokens`, else `sampling.max_prompt_tokens`) plus `sampling.max_new_tokens`: a shorter
    cache fails, or wraps and forgets the start of the prompt, and the memory estimate then prefills only
    kv_cache_tokens tokens. A cache longer than `context_length` holds positions the model cannot use (as CTX003
    for inference.seq_len). Dynamic and paged caches ignore the knob (MEM005).

    Why:
    torchao's generate.py refuses a shorter cache (pytorch/ao@00109449:torchao/_models/llama/generate.py:main,
    `assert cache_size >= max_seq_length, "need cache_size to be greater than max_new_tokens + size-of-prompt"`);
    a static cache has no slot past its length. Past the window, see CTX001.

    Bad:
    ```toml
    [sampling]
    max_prompt_tokens = 2048
    max_new_tokens = 512

    [inference]
    backend = "torchao-generate"
    kv_cache_tokens = 16
    ```

    Good:
    ```toml
    [sampling]
    max_prompt_tokens = 2048
    max_new_tokens = 512

    [inference]
    backend = "torchao-generate"
    kv_cache_tokens = 4096
    ```
    """

    code = "CTX004"
    name = "kv-cache-tokens-out-of-range"
    severity = "error"

    def check(self, ctx):
        inf, smp = ctx.spec.inference, ctx.spec.sampling
        if inf is None or "kv_cache_tokens" not in inf.model_fields_set or inf.kv_allocation != "static":
            return
        window = ctx.spec.arch.context_length
        named = inf.kv_cache_tokens
        tokens = window if named == "context_length" else named
        shown = f"{named!r} ({tokens:,})" if named == "context_length" else f"{tokens:,}"
        if named != "context_length" and tokens > window:
            yield self.finding(ctx, KEY, f"inference.kv_cache_tokens = {shown} exceeds the model's context_length = "
                                         f"{window:,}", fix=f"set inference.kv_cache_tokens = {window} or less")
            return
        new = smp.max_new_tokens if smp is not None else 0
        prompt = inf.prompt_tokens or (smp.max_prompt_tokens if smp is not None else None)
        if prompt:
            need, what = prompt + new, f"the prompt and the new tokens ({prompt:,} + {new:,} = {prompt + new:,})"
        elif new:
            need, what = new + 1, f"max_new_tokens = {new:,} and a prompt"
        else:
            return
        if tokens < need:
            yield self.finding(ctx, KEY, f"a KV cache of inference.kv_cache_tokens = {shown} tokens cannot hold {what}",
                               fix=f"set inference.kv_cache_tokens = {min(need, window) if need <= window else need} "
                                   "or more" + (f" (within context_length = {window:,})" if need <= window
                                               else f"; the run needs more than context_length = {window:,}"))


RULE = KvCacheTokens
