"""Tell which tool a config belongs to from its keys; never guess between tools that share keys."""

from __future__ import annotations

import re
from pathlib import PurePath

from llmspec.bridges.yamlfile import BridgeError, Entry

# Keys only one tool's config has (from each tool's documented config format):
#   axolotl: https://docs.axolotl.ai/docs/config-reference.html (base_model, sequence_len, micro_batch_size, adapter)
#   LLaMA-Factory: src/llamafactory/hparams/finetuning_args.py, data_args.py (stage, finetuning_type, cutoff_len, template)
#   TRL: trl/trainer/sft_config.py and model_config.py (max_length, use_peft, dataset_name; not lora_r, LitGPT has it)
#   LitGPT: litgpt/finetune/lora.py, full.py setup (checkpoint_dir, lora_query..lora_head, num_nodes, train)
#   torchtune: recipes/configs/*.yaml (checkpointer, enable_activation_checkpointing, max_steps_per_epoch, ...)
MARKERS: dict[str, frozenset[str]] = {
    "axolotl": frozenset({"base_model", "sequence_len", "micro_batch_size", "adapter"}),
    "llamafactory": frozenset({"stage", "finetuning_type", "cutoff_len", "template", "lora_rank", "lora_target"}),
    # not lora_r / lora_target_modules (axolotl has them too; lora_r LitGPT too) nor datasets (TRL's
    # DatasetMixtureConfig has it)
    "trl": frozenset({"max_length", "use_peft", "dataset_name", "completion_only_loss", "assistant_only_loss"}),
    "litgpt": frozenset({"checkpoint_dir", "lora_query", "lora_key", "lora_value", "lora_projection", "lora_mlp",
                         "lora_head", "num_nodes", "train"}),
    "torchtune": frozenset({"checkpointer", "enable_activation_checkpointing", "enable_activation_offloading",
                            "max_steps_per_epoch", "clip_grad_norm", "optimizer_in_bwd", "log_every_n_steps"}),
}
NAMES = {"axolotl": "axolotl", "llamafactory": "LLaMA-Factory", "trl": "TRL", "litgpt": "LitGPT", "torchtune": "torchtune"}


def detect(path: str, entries: list[Entry]) -> str:
    keys = {e.key for e in entries}
    hits = {tool: sorted(keys & marks) for tool, marks in MARKERS.items() if keys & marks}
    if len(hits) == 1:
        return next(iter(hits))
    first = entries[0] if entries else Entry("", None, 1, 1)
    if not hits:
        from llmspec.bridges.tables import known_keys

        tools = ", ".join(NAMES[t] for t in sorted(MARKERS, key=str.lower))
        foreign = [e for e in entries if not any(e.key in (known_keys(t) or ()) for t in MARKERS)]
        if foreign and len(foreign) == len(entries):  # no key of any tool: name the ones that are not
            names = ", ".join(e.key for e in foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise BridgeError(f"{path}:{first.line}:{first.col}: not a training config of a tool llmspec reads: "
                              f"no key of {tools} ({names}); give the training config, or --from TOOL")
        raise BridgeError(f"{path}:{first.line}:{first.col}: cannot tell which tool this config is for: its keys "
                          "are ones the HF-Trainer tools share, with no key only one of them has (such as "
                          f"{', '.join(sorted(MARKERS['trl'])[:3])} of TRL); give --from trl|axolotl|llamafactory")
    found = "; ".join(f"{NAMES[t]} ({', '.join(k)})" for t, k in sorted(hits.items()))
    raise BridgeError(f"{path}:{first.line}:{first.col}: keys of more than one tool: {found}; give --from TOOL")


def recognised(entries: list[Entry]) -> bool:
    """Whether these top-level keys are a training config of a tool llmspec reads (lint's folder search and
    pre-commit): marker keys of a tool, and at least half of all keys accepted by that tool's parser where its key
    list exists (llmspec/data/bridges/<tool>_keys.txt). Decided on parsed keys, never on text."""
    from llmspec.bridges.tables import known_keys

    keys = {e.key for e in entries}
    for tool, marks in MARKERS.items():
        if keys & marks:
            known = known_keys(tool)
            if known is None or 2 * len(keys & known) >= len(keys):
                return True
    return False


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:(?:\s|$)", re.M)


def looks_like(path: str, text: str) -> bool:
    """Whether a YAML file that does not parse is meant as a training config, so that its syntax error is reported
    rather than the file skipped: the top-level `key:` lines (column 0, read from the text, since there is no parse)
    pass :func:`recognised`, or the file or its folder is named after a tool (axolotl/qlora.yml, trl_sft.yaml)."""
    keys = [Entry(k, None, 1, 1) for k in dict.fromkeys(_TOP_KEY.findall(text))]
    if keys and recognised(keys):
        return True
    parts = re.split(r"[^a-z0-9]+", str(PurePath(path).with_suffix("")).lower())
    return bool(set(parts) & set(MARKERS))
