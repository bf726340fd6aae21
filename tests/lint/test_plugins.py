"""Rule plugins through the real entry-point machinery (importlib.metadata reads a .dist-info on the path).

CI installs the example plugin (pip install -e plugins/llmspec-policy). These tests do not depend on that:
they put a .dist-info for it on PYTHONPATH, which is exactly what an installed distribution is to Python,
and run `llmspec lint` in a fresh process. A broken plugin is reported as one warning line and skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SRC = ROOT / "plugins" / "llmspec-policy" / "src"

SPEC = '''[meta]
description = "no owner"

[model]
name = "m"

[model.architecture]
n_layers = 2
d_model = 64
n_heads = 4
ffn_dim = 128
vocab_size = 512
context_length = 256

[training]
method = "full"
seq_len = 256
'''


def _dist(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def _lint(site: Path, spec: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(PLUGIN_SRC), str(ROOT)]), "NO_COLOR": "1"}
    code = "import sys; from llmspec.cli import main; sys.argv = ['llmspec', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, "lint", str(spec), "-f", "concise", *args],
                          capture_output=True, text=True, env=env)


def test_installed_plugin_rules_run(tmp_path):
    site = tmp_path / "site"
    _dist(site, "llmspec_policy", "[llmspec.rules]\norg001 = llmspec_policy.owner:OwnerRule\n"
                                  "org002 = llmspec_policy.seed:SeedRule\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    proc = _lint(site, spec)
    assert proc.returncode == 0, proc.stderr  # ORG rules are warnings
    assert f"{spec}:1:2: ORG001 [warning] the spec names no owner" in proc.stdout
    assert f"{spec}:15:2: ORG002 [warning]" in proc.stdout
    assert proc.stderr == ""
    # configured like built-in rules
    assert "ORG" not in _lint(site, spec, "--ignore", "ORG").stdout
    assert _lint(site, spec, "--select", "ORG002", "--strict").returncode == 1


def test_broken_plugins_are_reported_and_skipped(tmp_path):
    site = tmp_path / "site"
    _dist(site, "broken_rules", "[llmspec.rules]\nmissing = no_such_module_xyz:Rule\nnotarule = json:dumps\n")
    _dist(site, "clashing_rules", "[llmspec.rules]\nclash = llmspec.lint.rules.smp001_temperature_range:RULE\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC + '\n[sampling]\ntemperature = 3\n')
    proc = _lint(site, spec)
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 3, proc.stderr
    assert all(w.startswith("llmspec: warning: skipping rule plugin ") for w in warnings)
    assert "ModuleNotFoundError" in proc.stderr and "is not a llmspec.lint.Rule subclass" in proc.stderr
    assert "code SMP001 is already taken" in proc.stderr
    assert "SMP001 [error]" in proc.stdout and proc.returncode == 1  # the run went on
    assert "Traceback" not in proc.stderr
