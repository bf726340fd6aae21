from __future__ import annotations

from llmspec.lint.rule import Rule

_PICKLE = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_KEYS = (("model", "weights"), ("eval", "model"), ("eval", "adapter"))


class PickleWeights(Rule):
    """Weights in a pickle-based format (.bin, .pt, .pth, .ckpt, .pkl) where safetensors would do.

    PyTorch checkpoints saved with torch.save are pickles: loading one can execute arbitrary code. safetensors
    stores only tensors, loads faster (zero-copy) and is what transformers writes by default.

    Why:
    Python's pickle documentation: "Warning: The pickle module is not secure. Only unpickle data you trust."
    torch.load's documentation warns of the same and defaults to weights_only=True since PyTorch 2.6. Hugging
    Face's safetensors documentation and its security audit (Trail of Bits, 2023) describe the format as free
    of code execution.

    Bad:
    ```toml
    [model]
    name = "m"
    weights = "checkpoints/model.bin"
    ```

    Good:
    ```toml
    [model]
    name = "m"
    weights = "checkpoints/model.safetensors"
    ```
    """

    code = "SEC002"
    name = "pickle-weights"
    severity = "warning"

    def check(self, ctx):
        for key in _KEYS:
            section = getattr(ctx.spec, key[0])
            value = getattr(section, key[1], None) if section is not None else None
            if isinstance(value, str) and value.lower().endswith(_PICKLE):
                yield self.finding(
                    ctx, key,
                    f"{key[0]}.{key[1]} points at a pickle file ({value.rsplit('.', 1)[-1]}): loading it can run "
                    "arbitrary code",
                    fix="convert it once to safetensors (save_pretrained(..., safe_serialization=True)) and point "
                        "at the .safetensors file or its folder",
                )


RULE = PickleWeights
