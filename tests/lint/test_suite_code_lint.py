"""SEC005 through the real CLI: a suite reached through `../`, and lint never imports lm_eval or torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = """[eval]
suites = ["../shared/suite.toml"]

[model]
name = "m"
[model.architecture]
n_layers = 2
d_model = 64
n_heads = 4
ffn_dim = 256
vocab_size = 256
context_length = 64
"""


def test_suite_reached_through_parent_dir_is_reported_without_importing_lm_eval(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "suite.toml").write_text('name = "s"\n[[tasks]]\ntask = "t"\npath = "../tasks/t.yaml"\n')
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "t.yaml").write_text("task: t\nprocess_docs: !function evil.run\n")
    marker = tmp_path / "marker"
    (tmp_path / "tasks" / "evil.py").write_text(f"open({str(marker)!r}, 'w')\ndef run(d):\n    return d\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "spec.toml").write_text(SPEC)
    code = ("import sys; from llmspec.cli import main\n"
            "try:\n    sys.argv = ['llmspec', 'lint', 'spec.toml', '--select', 'SEC005']; main()\nexcept SystemExit as e:\n    code = e.code\n"
            "heavy = sorted(m for m in ('lm_eval', 'torch', 'transformers') if m in sys.modules)\n"
            "print('HEAVY', heavy); sys.exit(code)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "spec.toml:2:11: SEC005" in p.stdout, p.stdout + p.stderr
    assert "tasks/t.yaml:2:15: !function evil.run runs Python (evil.py beside the YAML)" in p.stdout
    assert "suite '../shared/suite.toml' (outside the spec's folder) runs code" in p.stdout
    assert "HEAVY []" in p.stdout
    assert p.returncode == 1 or "warning" in p.stdout
    assert not marker.exists()
