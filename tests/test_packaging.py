"""What a pip user gets, checked the way a release would be: build the sdist and the wheel, `twine check` both,
install the wheel into a fresh venv with only the core dependencies (no torch, no transformers, no lm-eval) and run
check, lint and estimate there. Also: the unrelated PyPI package `llmspec`, which ships its own top-level
`llmspec/`, installed beside ours in either order, gives one line and exit 2 instead of a traceback."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from llmspec._version import __version__

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "llama2-7b-lora-a100.toml"


def _run(*cmd: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True)


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, ROOT)
    (wheel,) = out.glob("llmspec_cli-*.whl")
    (sdist,) = out.glob("llmspec_cli-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def core_venv(dists, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(env_dir, with_pip=True)
    _run(env_dir / "bin" / "python", "-m", "pip", "install", "-q", dists["wheel"])
    return env_dir


def _foreign_wheel(directory: Path) -> Path:
    """A wheel shaped like the unrelated `llmspec` 0.3.18 on PyPI (name, version and a top-level `llmspec/` package
    whose __init__ imports its own module), built locally so that the test needs no download."""
    files = {
        "llmspec/__init__.py": "from llmspec.llmspec import LanguageModels\n__all__ = ['LanguageModels']\n",
        "llmspec/llmspec.py": "class LanguageModels:\n    pass\n",
        "llmspec-0.3.18.dist-info/METADATA": "Metadata-Version: 2.1\nName: llmspec\nVersion: 0.3.18\nSummary: LLM unified interface\n",
        "llmspec-0.3.18.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("llmspec-0.3.18.dist-info/RECORD,,")
    files["llmspec-0.3.18.dist-info/RECORD"] = "\n".join(record) + "\n"
    path = directory / "llmspec-0.3.18-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.mark.slow
def test_twine_check_passes(dists) -> None:
    result = _run(sys.executable, "-m", "twine", "check", "--strict", dists["sdist"], dists["wheel"], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert dists["wheel"].name.startswith(f"llmspec_cli-{__version__}-")


@pytest.mark.slow
def test_wheel_carries_data(dists) -> None:
    names = set(zipfile.ZipFile(dists["wheel"]).namelist())
    assert "llmspec/data/accelerators.toml" in names
    for schema in (ROOT / "schemas").glob("*.json"):
        assert f"llmspec/_data/schemas/{schema.name}" in names
    for suite in (ROOT / "suites").rglob("*"):
        if suite.is_file() and "__pycache__" not in suite.parts:
            assert f"llmspec/_data/suites/{suite.relative_to(ROOT / 'suites').as_posix()}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(dists["wheel"]).read(entry_points).decode()
    assert "llmspec = llmspec.cli:main" in text


@pytest.mark.slow
def test_core_install_runs_check_lint_estimate(core_venv: Path) -> None:
    """The fresh venv with only the core dependencies runs `llmspec check`, `lint` and `estimate`."""
    py = core_venv / "bin" / "python"
    probe = _run(py, "-c", "import importlib.util as u; print([m for m in ('torch','transformers','lm_eval') if u.find_spec(m)])")
    assert probe.stdout.strip() == "[]"
    exe = core_venv / "bin" / "llmspec"
    check = _run(exe, "check", EXAMPLE, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    lint = _run(exe, "lint", EXAMPLE, check=False)
    assert lint.returncode in (0, 1), lint.stdout + lint.stderr
    assert "internal error" not in lint.stderr
    estimate = _run(exe, "estimate", "--format", "json", EXAMPLE, check=False)
    assert estimate.returncode == 0, estimate.stdout + estimate.stderr
    assert json.loads(estimate.stdout)["params"]["total"] == 6_738_415_616  # Llama-2-7B's published count
    version = _run(exe, "--version", check=False)
    assert __version__ in version.stdout


@pytest.mark.slow
@pytest.mark.parametrize("foreign_last", [True, False], ids=["foreign-installed-after", "foreign-installed-before"])
def test_foreign_llmspec_package_is_one_line(dists, tmp_path: Path, foreign_last: bool) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    pip = [env_dir / "bin" / "python", "-m", "pip", "install", "-q"]
    ours, foreign = [*pip, dists["wheel"]], [*pip, "--no-deps", _foreign_wheel(tmp_path)]
    for command in (ours, foreign) if foreign_last else (foreign, ours):
        _run(*command)
    result = _run(env_dir / "bin" / "llmspec", "check", EXAMPLE, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unrelated PyPI package 'llmspec' 0.3.18" in lines[0]
    assert "pip uninstall -y llmspec" in lines[0]
    assert "Traceback" not in result.stderr
