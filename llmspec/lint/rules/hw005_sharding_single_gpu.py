from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("hardware", "sharding")


class ShardingSingleGpu(Rule):
    """State sharding (ZeRO / FSDP) is set for a single GPU, where it saves nothing.

    ZeRO and FSDP divide optimizer states, gradients and (stage 3 / FSDP) weights among the data-parallel GPUs.
    With one GPU there is nothing to divide them among: memory is unchanged and the wrappers add communication
    hooks and overhead. (CPU offload still helps; it is checked separately by the memory estimate.)

    Why:
    Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models", section 5:
    per-GPU model-state memory is divided by the data-parallel degree N_d; with N_d = 1 the saving is zero.

    Bad:
    ```toml
    [hardware]
    accelerator = "A100-80GB"
    count = 1
    sharding = "zero3"
    ```

    Good:
    ```toml
    [hardware]
    accelerator = "A100-80GB"
    count = 4
    sharding = "zero3"
    ```
    """

    code = "HW005"
    name = "sharding-on-one-gpu"
    severity = "warning"

    def check(self, ctx):
        hw = ctx.spec.hardware
        if hw is None or hw.sharding == "none":
            return
        data_parallel = hw.world_size // max(1, hw.tensor_parallel * hw.pipeline_parallel)
        if data_parallel <= 1:
            yield self.finding(
                ctx, KEY,
                f"sharding = {hw.sharding!r} with a data-parallel degree of {data_parallel}: there is no other GPU to "
                "shard the states over, so it saves no memory",
                fix='set sharding = "none" (keep offload if the states do not fit), or add GPUs',
            )


RULE = ShardingSingleGpu
