"""Bridges to the training stacks: read the configs of TRL (and later axolotl, LLaMA-Factory) into specs.

The key-by-key mapping of each tool is data (llmspec/data/bridges/<tool>.toml, each key citing the tool's
source); this package holds the logic: reading YAML with positions, telling the tool apart, mapping.
"""
