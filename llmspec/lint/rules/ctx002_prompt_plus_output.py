from __future__ import annotations

from llmspec.lint.rule import Rule


class PromptPlusOutput(Rule):
    """The longest prompt plus max_new_tokens does not fit the context window.

    `sampling.max_prompt_tokens + sampling.max_new_tokens` must be at most `context_length`; without a declared
    prompt length, max_new_tokens alone is checked. Past the window, servers reject the request (vLLM, TGI) or
    truncate the prompt from the left (Hugging Face pipelines), silently dropping instructions.

    Why:
    A decoder attends over prompt and generated tokens together; both count against the positions the model
    was trained with (see CTX001). vLLM validates `prompt_tokens + max_tokens <= max_model_len` and rejects the
    request otherwise.

    Bad:
    ```toml
    [sampling]
    max_prompt_tokens = 3500
    max_new_tokens = 1024
    ```

    Good:
    ```toml
    [sampling]
    max_prompt_tokens = 3000
    max_new_tokens = 1024
    ```
    """

    code = "CTX002"
    name = "prompt-plus-output-exceeds-context"
    severity = "error"

    def check(self, ctx):
        sampling = ctx.spec.sampling
        if sampling is None:
            return
        window = ctx.spec.arch.context_length
        prompt = sampling.max_prompt_tokens or 0
        total = prompt + sampling.max_new_tokens
        if total > window:
            if prompt:
                message = (f"max_prompt_tokens + max_new_tokens = {prompt:,} + {sampling.max_new_tokens:,} = "
                           f"{total:,} exceeds context_length = {window:,}")
                fix = f"keep prompts under {max(0, window - sampling.max_new_tokens):,} tokens or lower max_new_tokens to {max(1, window - prompt):,}"
                key = ("sampling", "max_prompt_tokens")
            else:
                message = f"max_new_tokens = {total:,} exceeds context_length = {window:,} on its own"
                fix = f"set max_new_tokens below {window:,}, leaving room for the prompt"
                key = ("sampling", "max_new_tokens")
            yield self.finding(ctx, key, message, fix=fix)


RULE = PromptPlusOutput
