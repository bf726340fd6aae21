"""Write llmspec/data/bridges/trl_keys.txt: every key `trl sft --config FILE` accepts, from the installed trl.

The key list is what TrlParser builds `trl sft` over (trl/scripts/sft.py: ScriptArguments, SFTConfig,
ModelConfig), read from the real dataclasses; re-run after upgrading trl:  python scripts/bridges_keys.py
"""

import dataclasses
from pathlib import Path

import trl
from trl import ModelConfig, ScriptArguments, SFTConfig

OUT = Path(__file__).resolve().parent.parent / "llmspec" / "data" / "bridges" / "trl_keys.txt"
keys = sorted({f.name for c in (ScriptArguments, SFTConfig, ModelConfig) for f in dataclasses.fields(c)} | {"config"})
OUT.write_text(f"# trl {trl.__version__}: keys of ScriptArguments, SFTConfig, ModelConfig (scripts/bridges_keys.py)\n"
               + "\n".join(keys) + "\n", encoding="utf-8")
print(f"{OUT}: {len(keys)} keys")
