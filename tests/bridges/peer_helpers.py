"""The tools' own parsers run in their own venvs (their pins clash with the eval stack): LLMSPEC_AXOLOTL_PYTHON /
LLMSPEC_LLAMAFACTORY_PYTHON name each venv's python (.ci/run creates them); tests that need one skip without it.

Importing axolotl takes tens of seconds, so each test module hands all its configs to one parser process."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

PEER = Path(__file__).resolve().parent / "peer_parse.py"
VENVS = {"axolotl": "LLMSPEC_AXOLOTL_PYTHON", "llamafactory": "LLMSPEC_LLAMAFACTORY_PYTHON"}


def peer_python(tool: str) -> str:
    python = os.environ.get(VENVS[tool])
    if not python or not Path(python).is_file():
        pytest.skip(f"{tool}'s own venv is not set up ({VENVS[tool]}); .ci/run creates it")
    return python


def peer_parse_all(tool: str, configs: list[Path]) -> dict[str, dict | str]:
    """config path -> the values the tool's own parser read, or its refusal message (text)."""
    env = {**os.environ, "DISABLE_VERSION_CHECK": "0", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    proc = subprocess.run([peer_python(tool), str(PEER), tool, *map(str, configs)], capture_output=True, text=True,
                          env=env, timeout=1800, cwd=configs[0].parent)
    results: dict[str, dict | str] = {}
    for line in proc.stdout.splitlines():
        kind, _, payload = line.partition(" ")
        if kind in ("PARSED", "REFUSED"):
            path, value = json.loads(payload)
            results[path] = value
    missing = [str(c) for c in configs if str(c) not in results]
    assert not missing, f"{tool}'s parser process gave no verdict on {missing}: {proc.stderr[-2000:]}"
    return results


def accepted(results: dict[str, dict | str], config: Path) -> dict:
    value = results[str(config)]
    assert isinstance(value, dict), f"the tool refused {config}: {value}"
    return value
