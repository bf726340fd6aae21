"""The lint path never imports torch, transformers or lm_eval (pre-commit speed), checked in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("torch", "transformers", "lm_eval", "datasets", "accelerate", "peft")

PROBE = """
import json, sys
from llmspec.cli import cli
formats = {formats!r}
for fmt in formats:
    try:
        cli.main(["lint", *{paths!r}, "--exit-zero", "--data", "-f", fmt], standalone_mode=False)
    except SystemExit:
        pass
mods = sorted({{m.split(".")[0] for m in sys.modules}})
print(json.dumps(mods))
"""


@pytest.mark.parametrize("formats", [["full"], ["concise", "json", "github", "sarif", "junit"]])
def test_lint_imports_no_heavy_modules(formats, tmp_path):
    paths = [str(ROOT / "examples"), str(ROOT / "tests" / "lint" / "data")]
    code = PROBE.format(formats=formats, paths=paths)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert not modules & set(FORBIDDEN), sorted(modules & set(FORBIDDEN))
    if formats == ["full"]:
        assert "rich" not in modules, "the default format does not need rich"
