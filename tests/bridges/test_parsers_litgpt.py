"""LitGPT's own CLI parser accepts the fixtures and what `llmspec export --to litgpt` writes.

litgpt 0.5.13 needs an older huggingface-hub than the eval stack, so its parser runs in the bridges venv
(.venv-bridges, built by .ci/run's separate bridge-parser step; LLMSPEC_BRIDGES_PYTHON names another). The parser is
the one the `litgpt` command builds (jsonargparse over litgpt.__main__.main), captured instead of run: parse only.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from bridge_helpers import FIXTURES, bridges_python, run_cli

pytestmark = pytest.mark.bridge_parsers
PYTHON = bridges_python()
HERE = Path(__file__).resolve().parent
LITGPT_FIXTURES = sorted(FIXTURES.glob("litgpt_*.yaml"))


def _command(config: Path) -> str:
    return "finetune_full" if "full" in config.stem else "finetune_lora"


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict[str, dict]:
    """Every fixture, its export after import, and one config with a key LitGPT does not have, parsed by LitGPT in one
    process (one import of litgpt, about ten seconds)."""
    if PYTHON is None:
        pytest.skip("the bridges venv (.venv-bridges with litgpt 0.5.13) is absent; .ci/run's bridge-parser step builds it")
    tmp = tmp_path_factory.mktemp("litgpt")
    files: list[Path] = list(LITGPT_FIXTURES)
    for config in LITGPT_FIXTURES:
        spec, exported = tmp / f"{config.stem}.toml", tmp / f"{config.stem}.export.yaml"
        assert run_cli("import", str(config), "-o", str(spec)).code == 0
        sets = ["--set", "hardware.count=4", "--set", "hardware.sharding=fsdp"] if "full" in config.stem else []
        result = run_cli("export", str(spec), "--to", "litgpt", "-o", str(exported), *sets)
        assert result.code == 0, result.err
        files.append(exported)
    bad = tmp / "litgpt_bad_lora.yaml"
    bad.write_text("checkpoint_dir: checkpoints/x/y\ntrain:\n  learning_rate: 0.0003\n")  # litgpt 0.4's key
    files.append(bad)
    args = [a for f in files for a in (_command(f), str(f))]
    proc = subprocess.run([str(PYTHON), str(HERE / "parse_litgpt.py"), *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {Path(r["path"]).name: r for r in rows}


@pytest.mark.parametrize("config", LITGPT_FIXTURES, ids=lambda p: p.stem)
def test_fixture_is_accepted_by_litgpts_parser(parsed, config):
    assert parsed[config.name]["ok"] is True


@pytest.mark.parametrize("config", LITGPT_FIXTURES, ids=lambda p: p.stem)
def test_export_is_accepted_by_litgpts_parser_with_the_same_batch(parsed, config):
    original, exported = parsed[config.name], parsed[f"{config.stem}.export.yaml"]
    assert exported["ok"] is True
    for key in ("micro_batch_size", "global_batch_size", "max_seq_length", "precision", "quantize", "lora_r"):
        assert exported[key] == original[key], key


def test_litgpts_parser_refuses_a_key_it_does_not_have(parsed):
    assert parsed["litgpt_bad_lora.yaml"]["ok"] is False
