"""Tell which tool a config belongs to from its keys; never guess between tools that share keys."""

from __future__ import annotations

from llmspec.bridges.yamlfile import BridgeError, Entry

# Keys only one tool's config has (from each tool's documented config format):
#   axolotl: https://docs.axolotl.ai/docs/config-reference.html (base_model, sequence_len, micro_batch_size, adapter)
#   LLaMA-Factory: src/llamafactory/hparams/finetuning_args.py, data_args.py (stage, finetuning_type, cutoff_len, template)
#   TRL: trl/trainer/sft_config.py and model_config.py (max_length, use_peft, lora_r, dataset_name)
MARKERS: dict[str, frozenset[str]] = {
    "axolotl": frozenset({"base_model", "sequence_len", "micro_batch_size", "adapter"}),
    "llamafactory": frozenset({"stage", "finetuning_type", "cutoff_len", "template", "lora_rank", "lora_target"}),
    # not lora_r / lora_target_modules (axolotl has them too) nor datasets (TRL's DatasetMixtureConfig has it)
    "trl": frozenset({"max_length", "use_peft", "dataset_name", "completion_only_loss", "assistant_only_loss"}),
}
NAMES = {"axolotl": "axolotl", "llamafactory": "LLaMA-Factory", "trl": "TRL"}


def detect(path: str, entries: list[Entry]) -> str:
    keys = {e.key for e in entries}
    hits = {tool: sorted(keys & marks) for tool, marks in MARKERS.items() if keys & marks}
    if len(hits) == 1:
        return next(iter(hits))
    first = entries[0] if entries else Entry("", None, 1, 1)
    if not hits:
        raise BridgeError(f"{path}:{first.line}:{first.col}: cannot tell which tool this config is for (no key "
                          f"such as {', '.join(sorted(MARKERS['trl'])[:3])} of TRL); give --from trl|axolotl|llamafactory")
    found = "; ".join(f"{NAMES[t]} ({', '.join(k)})" for t, k in sorted(hits.items()))
    raise BridgeError(f"{path}:{first.line}:{first.col}: keys of more than one tool: {found}; give --from TOOL")
