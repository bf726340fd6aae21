"""What a pip user gets: the wheel carries the schemas, suites, catalog and built-in plugins, and the core install
(no torch, no transformers, no lm-eval) runs check and lint."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (path,) = out.glob("llmspec-*.whl")
    return path


@pytest.mark.slow
def test_wheel_carries_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "llmspec/data/accelerators.toml" in names
    for schema in (ROOT / "schemas").glob("*.json"):
        assert f"llmspec/_data/schemas/{schema.name}" in names
    for suite in (ROOT / "suites").rglob("*"):
        if suite.is_file() and "__pycache__" not in suite.parts:
            assert f"llmspec/_data/suites/{suite.relative_to(ROOT / 'suites').as_posix()}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "llmspec = llmspec.cli:main" in text


@pytest.mark.slow
def test_core_install_needs_no_torch(wheel: Path, tmp_path: Path) -> None:
    """A fresh venv with only the core dependencies runs `llmspec check` and `llmspec lint`."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True, text=True)
    probe = subprocess.run(
        [str(py), "-c", "import importlib.util as u; print([m for m in ('torch','transformers','lm_eval') if u.find_spec(m)])"],
        check=True, capture_output=True, text=True,
    )
    assert probe.stdout.strip() == "[]"
    example = ROOT / "examples" / "llama2-7b-lora-a100.toml"
    check = subprocess.run([str(env_dir / "bin" / "llmspec"), "check", str(example)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    lint = subprocess.run([str(env_dir / "bin" / "llmspec"), "lint", str(example)], capture_output=True, text=True)
    assert lint.returncode in (0, 1), lint.stdout + lint.stderr
    assert "internal error" not in lint.stderr
