"""Write llmspec/data/bridges/trl_keys.txt: every key `trl sft --config FILE` accepts, from the installed trl.

The dataclasses are the ones `trl sft` builds its TrlParser over (trl.scripts.sft.make_parser), read from the real
package, plus TrlParser's own `env` key and `config`; re-run after upgrading trl:  python scripts/bridges_keys.py
"""

import dataclasses
from pathlib import Path

import trl
from trl.scripts.sft import make_parser

OUT = Path(__file__).resolve().parent.parent / "llmspec" / "data" / "bridges" / "trl_keys.txt"
types = make_parser().dataclass_types
keys = sorted({f.name for c in types for f in dataclasses.fields(c)} | {"config", "env"})
names = ", ".join(c.__name__ for c in types)
OUT.write_text(f"# trl {trl.__version__}: keys of {names}, env (scripts/bridges_keys.py)\n"
               + "\n".join(keys) + "\n", encoding="utf-8")
print(f"{OUT}: {len(keys)} keys")
