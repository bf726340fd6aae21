"""The README's install command is what CI installs (.ci/run): the same pins (torch's CPU wheel, the transformers
the estimates and docs were checked against), extras and plugin packages. The README had no transformers pin while
CI pinned 5.24.0 (found by the newcomer trial of the README)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pip_args(command: str) -> list[str]:
    """The arguments of the `pip install` in ``command`` (up to the next && or |), options dropped."""
    words = shlex.split(command.split("pip install", 1)[1].split("&&", 1)[0].split("|", 1)[0])
    return [w for w in words if (not w.startswith("-") or w == "-e") and w != "2>&1"]


def test_readme_install_matches_ci():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(python3 -m venv .*?)\n", readme)
    assert block, "README's set-up command not found"
    readme_cmd = block.group(1).split("pip install --upgrade pip && ", 1)[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    marker = "# The README's install command"
    ci_cmd = next(line for line in ci[ci.index(marker):].splitlines()[1:] if "pip install" in line)
    assert sorted(_pip_args(readme_cmd)) == sorted(_pip_args(ci_cmd))
    assert "transformers==5.24.0" in _pip_args(readme_cmd) and "torch==2.13.0" in _pip_args(readme_cmd)
