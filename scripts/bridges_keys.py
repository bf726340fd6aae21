"""Write llmspec/data/bridges/<tool>_keys.txt: every key the tool's own parser accepts, from the installed package.

  trl        the dataclasses `trl sft` builds its TrlParser over (trl.scripts.sft.make_parser), plus TrlParser's own
             `env` key and `config`
  litgpt     the jsonargparse parser the `litgpt` command builds (capture_parser over litgpt.__main__.main), for
             `finetune_lora` and `finetune_full`: every dotted key it has a default for; `data` and `optimizer`
             take a class (class_path / init_args), so their init_args are written as `<key>.init_args.*`
  torchtune  every dotted key of the recipe configs torchtune ships (recipes/configs/**.yaml), plus the parameters
             of each `_component_` they name (tune validate binds a component's keys to its signature)

  axolotl    the fields (and aliases) of axolotl.utils.schemas.config.AxolotlInputConfig, which validate_config
             checks a YAML against, plus the input args of every plugin shipped inside axolotl (each plugin's
             get_input_args(), accepted when `plugins:` names it); nested keys as `datasets.KEY` (SFTDataset, one
             entry of `datasets:`) and `fsdp_config.KEY` (FSDPConfig). Run it with axolotl's own venv.
  llamafactory  the dataclasses LLaMA-Factory's get_train_args parses a training YAML with
             (llamafactory.hparams.parser._TRAIN_ARGS, an HfArgumentParser); its keys are flat.
             DISABLE_VERSION_CHECK=1 lets it import beside a transformers newer than its pin (installed --no-deps).

Re-run after upgrading the tool:  python scripts/bridges_keys.py trl|litgpt|torchtune|axolotl|llamafactory
litgpt needs an older huggingface-hub than the eval stack and torchtune needs torchao, so those two run with the
bridges venv's python (.venv-bridges, built by .ci/run's bridge-parser step).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import os
import pkgutil
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "llmspec" / "data" / "bridges"


def trl_keys() -> tuple[str, list[str]]:
    import trl
    from trl.scripts.sft import make_parser

    types = make_parser().dataclass_types
    keys = sorted({f.name for c in types for f in dataclasses.fields(c)} | {"config", "env"})
    return f"trl {trl.__version__}: keys of {', '.join(c.__name__ for c in types)}, env", keys


def _flatten(tree: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in tree.items():
        keys.add(prefix + str(key))
        if isinstance(value, dict):
            keys |= _flatten(value, f"{prefix}{key}.")
    return keys


def litgpt_keys() -> tuple[str, list[str]]:
    import litgpt.__main__ as cli
    from jsonargparse import capture_parser

    parser = capture_parser(cli.main)
    subcommands = parser._subcommands_action._name_parser_map  # the parsers of `litgpt finetune_lora` etc.
    keys: set[str] = set()
    for command in ("finetune_lora", "finetune_full"):
        defaults = subcommands[command].get_defaults().as_dict()
        defaults.pop("config", None)
        keys |= {k for k in _flatten(defaults) if not k.startswith("log.metadata.")}
    for subclass_key in ("data", "optimizer"):  # a class given as class_path + init_args (or a name)
        keys |= {f"{subclass_key}.class_path", f"{subclass_key}.init_args", f"{subclass_key}.init_args.*"}
    version = importlib.metadata.version("litgpt")
    return f"litgpt {version}: keys of `litgpt finetune_lora` and `finetune_full` (jsonargparse)", sorted(keys)


def _components(tree: dict[str, Any], prefix: str = "") -> set[tuple[str, str]]:
    found = {(prefix.rstrip("."), tree["_component_"])} if "_component_" in tree else set()
    for key, value in tree.items():
        if isinstance(value, dict):
            found |= _components(value, f"{prefix}{key}.")
    return found


def torchtune_keys() -> tuple[str, list[str]]:
    import yaml

    dist = importlib.metadata.distribution("torchtune")
    configs = [Path(str(dist.locate_file(f))) for f in dist.files or []
               if str(f).startswith("recipes/configs/") and str(f).endswith(".yaml")]
    keys: set[str] = set()
    components: set[tuple[str, str]] = set()
    for config in configs:
        tree = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        keys |= _flatten(tree)
        components |= _components(tree)
    for node, dotted in sorted(components):
        module, _, name = dotted.rpartition(".")
        try:
            target = getattr(importlib.import_module(module), name)
            params = inspect.signature(target).parameters
        except (ImportError, AttributeError, ValueError, TypeError):
            continue
        keys |= {f"{node}.{p}" for p, v in params.items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}
    return (f"torchtune {dist.version}: keys of its {len(configs)} shipped recipe configs and of the components "
            "they name"), sorted(keys)


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


def main(tool: str) -> None:
    header, keys = {"trl": trl_keys, "litgpt": litgpt_keys, "torchtune": torchtune_keys, "axolotl": axolotl_keys,
                    "llamafactory": llamafactory_keys}[tool]()
    out = OUT / f"{tool}_keys.txt"
    out.write_text(f"# {header} (scripts/bridges_keys.py)\n" + "\n".join(keys) + "\n", encoding="utf-8")
    print(f"{out}: {len(keys)} keys")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "trl")
