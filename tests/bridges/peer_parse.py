"""Run a tool's own config parser over one YAML, inside the tool's own venv; print the parsed values as JSON.

    TOOL_VENV/bin/python tests/bridges/peer_parse.py axolotl|llamafactory CONFIG.yaml

axolotl: axolotl.utils.config.validate_config with explicit GPU capabilities (a bf16-capable A100-class GPU; no GPU
is detected, none exists here). LLaMA-Factory: llamafactory.hparams.get_train_args over the YAML as `llamafactory-cli
train` reads it (read_args: OmegaConf.load). This machine has no GPU and transformers' TrainingArguments refuses
bf16=True without one, so the bf16-capability check is patched to say yes (the only mock; the config is unchanged).
Exit 1 with the parser's message on stderr when it refuses the config.
"""

import json
import sys


def axolotl(path: str) -> dict:
    import yaml
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault

    with open(path, encoding="utf-8") as f:
        cfg = DictDefault(yaml.safe_load(f))
    caps = {"bf16": True, "fp8": False, "tf32": True, "n_gpu": 1, "n_node": 1, "compute_capability": "sm_80"}
    out = validate_config(cfg, capabilities=caps, env_capabilities={"torch_version": "2.13.0"})
    return {k: v for k, v in out.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}


def llamafactory(path: str) -> dict:
    import dataclasses

    import transformers.training_args as ta
    from omegaconf import OmegaConf

    ta.is_torch_bf16_gpu_available = lambda *a, **k: True
    from llamafactory.hparams import get_train_args, parser

    parser.is_torch_bf16_gpu_available = lambda *a, **k: True
    args = OmegaConf.to_container(OmegaConf.load(path))
    out: dict = {}
    for group in get_train_args(args):
        for f in dataclasses.fields(group):
            value = getattr(group, f.name, None)
            if isinstance(value, (str, int, float, bool, list, type(None))):
                out[f.name] = value
    return out


if __name__ == "__main__":
    tool, config = sys.argv[1], sys.argv[2]
    try:
        parsed = {"axolotl": axolotl, "llamafactory": llamafactory}[tool](config)
    except Exception as exc:  # the parser's refusal, reported to the test
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    print("PARSED " + json.dumps(parsed, default=str))
