"""Write llmspec/data/bridges/<tool>_keys.txt: every key a tool's own config parser accepts, from the installed tool.

    python scripts/bridges_keys.py [trl|axolotl|llamafactory]     (default: trl; re-run after upgrading the tool)

- trl: the dataclasses `trl sft` builds its TrlParser over (trl.scripts.sft.make_parser), plus TrlParser's own `env`
  key and `config`.
- axolotl: the fields (and aliases) of axolotl.utils.schemas.config.AxolotlInputConfig, which validate_config checks a
  YAML against, plus the input args of every plugin shipped inside axolotl (each plugin's get_input_args(), accepted
  when `plugins:` names it); nested keys as `datasets.KEY` (SFTDataset, one entry of `datasets:`) and
  `fsdp_config.KEY` (FSDPConfig). Run it with axolotl's own venv (its pins clash with the eval stack's).
- llamafactory: the dataclasses LLaMA-Factory's get_train_args parses a training YAML with
  (llamafactory.hparams.parser._TRAIN_ARGS, an HfArgumentParser); its keys are flat. DISABLE_VERSION_CHECK=1 lets it
  import beside a transformers newer than its pin (it is installed --no-deps).
"""

import dataclasses
import importlib
import inspect
import os
import pkgutil
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "llmspec" / "data" / "bridges"


def trl_keys() -> tuple[str, list[str]]:
    import trl
    from trl.scripts.sft import make_parser

    types = make_parser().dataclass_types
    keys = sorted({f.name for c in types for f in dataclasses.fields(c)} | {"config", "env"})
    names = ", ".join(c.__name__ for c in types)
    return f"trl {trl.__version__}: keys of {names}, env", keys


def axolotl_keys() -> tuple[str, list[str]]:
    from importlib.metadata import version

    import axolotl.integrations as integrations
    from axolotl.integrations.base import BasePlugin
    from axolotl.utils.schemas.config import AxolotlInputConfig
    from axolotl.utils.schemas.datasets import SFTDataset
    from axolotl.utils.schemas.fsdp import FSDPConfig

    def fields(model) -> set[str]:
        return {n for n, f in model.model_fields.items()} | {f.alias for f in model.model_fields.values() if f.alias}

    keys = fields(AxolotlInputConfig)
    plugins, skipped = [], []
    for info in pkgutil.iter_modules(integrations.__path__):
        if not info.ispkg:
            continue
        try:
            package = importlib.import_module(f"axolotl.integrations.{info.name}")
        except ImportError as exc:  # e.g. llm_compressor needs the llmcompressor package
            skipped.append(f"{info.name} ({exc.name} not installed)")
            continue
        for _, cls in inspect.getmembers(package, inspect.isclass):
            if issubclass(cls, BasePlugin) and cls is not BasePlugin and cls.__module__.startswith(package.__name__):
                module, name = cls().get_input_args().rsplit(".", 1)
                keys |= fields(getattr(importlib.import_module(module), name))
                plugins.append(info.name)
    keys |= {f"datasets.{k}" for k in fields(SFTDataset)}
    fsdp = fields(FSDPConfig)
    keys |= {f"fsdp_config.{k}" for k in fsdp} | {f"fsdp_config.fsdp_{k}" for k in fsdp}  # the deprecated prefix
    head = (f"axolotl {version('axolotl')}: fields of AxolotlInputConfig, plugin args ({', '.join(sorted(set(plugins)))}); "
            f"datasets.* = SFTDataset, fsdp_config.* = FSDPConfig (also fsdp_-prefixed)"
            + (f"; plugins not read: {', '.join(skipped)}" if skipped else ""))
    return head, sorted(keys)


def llamafactory_keys() -> tuple[str, list[str]]:
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")
    import transformers
    from llamafactory import __version__
    from llamafactory.hparams.parser import _TRAIN_ARGS

    keys = sorted({f.name for c in _TRAIN_ARGS for f in dataclasses.fields(c) if f.init})
    names = ", ".join(c.__name__ for c in _TRAIN_ARGS)
    return f"llamafactory {__version__} (transformers {transformers.__version__}): init fields of {names}", keys


if __name__ == "__main__":
    tool = sys.argv[1] if len(sys.argv) > 1 else "trl"
    head, keys = {"trl": trl_keys, "axolotl": axolotl_keys, "llamafactory": llamafactory_keys}[tool]()
    out = DATA / f"{tool}_keys.txt"
    out.write_text(f"# {head} (scripts/bridges_keys.py)\n" + "\n".join(keys) + "\n", encoding="utf-8")
    print(f"{out}: {len(keys)} keys")
