"""The tools' own parsers run in their own venvs (their pins clash with the eval stack): LLMSPEC_AXOLOTL_PYTHON /
LLMSPEC_LLAMAFACTORY_PYTHON name each venv's python (.ci/run creates them); tests that need one skip without it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

PEER = Path(__file__).resolve().parent / "peer_parse.py"
VENVS = {"axolotl": "LLMSPEC_AXOLOTL_PYTHON", "llamafactory": "LLMSPEC_LLAMAFACTORY_PYTHON"}


def peer_parse(tool: str, config: Path) -> dict:
    """The values the tool's own parser read from ``config``; fails the test with the parser's message if it refused."""
    python = os.environ.get(VENVS[tool])
    if not python or not Path(python).is_file():
        pytest.skip(f"{tool}'s own venv is not set up ({VENVS[tool]}); .ci/run creates it")
    env = {**os.environ, "DISABLE_VERSION_CHECK": "0", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    proc = subprocess.run([python, str(PEER), tool, str(config)], capture_output=True, text=True, env=env,
                          timeout=900, cwd=config.parent)
    assert proc.returncode == 0, f"{tool} refused {config}: {proc.stderr[-2000:]}"
    line = next(line for line in proc.stdout.splitlines() if line.startswith("PARSED "))
    return json.loads(line[len("PARSED "):])
