from __future__ import annotations

from llmspec.lint.rule import Rule


class ParallelLayout(Rule):
    """The parallel layout does not fit the GPUs: tp x pp does not divide them, or tensor parallelism spans nodes.

    The GPUs (count x nodes) are split into data-parallel replicas of tensor_parallel x pipeline_parallel GPUs
    each; the product must divide the GPU count (error). Tensor parallelism exchanges activations twice per
    layer, so a degree larger than the GPUs of one node puts that traffic on the slower inter-node network
    (warning). Serving: inference.tensor_parallel larger than the GPUs available is an error.

    Why:
    Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM",
    section 3.3 / takeaway #1: use tensor parallelism up to the GPUs of a node (NVLink), pipeline parallelism
    across nodes. World size = data x tensor x pipeline parallel degrees (Megatron-LM initialisation checks it).

    Bad:
    ```toml
    [hardware]
    accelerator = "H100-SXM"
    count = 8
    tensor_parallel = 3
    ```

    Good:
    ```toml
    [hardware]
    accelerator = "H100-SXM"
    count = 8
    tensor_parallel = 4
    pipeline_parallel = 2
    ```
    """

    code = "HW004"
    name = "parallel-layout-mismatch"
    severity = "error"

    def check(self, ctx):
        hw = ctx.spec.hardware
        if hw is None:
            return
        world, model_parallel = hw.world_size, hw.tensor_parallel * hw.pipeline_parallel
        if world % model_parallel:
            key = ("hardware", "tensor_parallel") if hw.tensor_parallel > 1 else ("hardware", "pipeline_parallel")
            yield self.finding(
                ctx, key,
                f"tensor_parallel x pipeline_parallel = {hw.tensor_parallel} x {hw.pipeline_parallel} = "
                f"{model_parallel} does not divide the {world} GPUs (count x nodes)",
                fix=f"choose degrees whose product divides {world}, or change count/nodes",
            )
        elif hw.tensor_parallel > hw.count and hw.nodes > 1:
            yield self.finding(
                ctx, ("hardware", "tensor_parallel"),
                f"tensor_parallel = {hw.tensor_parallel} is larger than the {hw.count} GPUs of a node: tensor-parallel "
                "traffic crosses the inter-node network",
                fix=f"keep tensor_parallel <= {hw.count} and use pipeline_parallel across nodes",
                severity="warning" if self.level == "error" else self.level,
            )
        inference = ctx.spec.inference
        if inference is not None and inference.tensor_parallel and inference.tensor_parallel > world:
            yield self.finding(
                ctx, ("inference", "tensor_parallel"),
                f"inference.tensor_parallel = {inference.tensor_parallel} but hardware has {world} GPU(s)",
                fix=f"set hardware.count to at least {inference.tensor_parallel}, or lower inference.tensor_parallel",
            )


RULE = ParallelLayout
