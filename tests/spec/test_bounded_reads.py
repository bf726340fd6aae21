"""Bounded reads (issue 11, finding 6): regular files only, a size cap, symlink loops, NULs and deep nesting.

Each bad input gives one `file:line:col: ...` line and exit 2 from `check`, never a hang, MemoryError,
RecursionError or "internal error"; in `lint`, one bad file never loses the other files' findings. The FIFO
cases run in a subprocess with a timeout, so that the old code (which blocked forever) fails instead of hanging
the test run."""

from __future__ import annotations

import os
import re

import pytest
from spec_helpers import MINIMAL, run_cli, run_subprocess

from llmspec.spec import tomltext
from llmspec.spec.loader import SpecError, load_spec

LINE = re.compile(r"^[^\n]+:\d+:\d+: \S.*$")
fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")


def _one_line(result, *, where: str) -> str:
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.lines
    assert len(lines) == 1 and LINE.match(lines[0]) and lines[0].startswith(where), lines
    assert "internal error" not in result.out + result.err
    return lines[0]


def test_extends_dev_zero(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('extends = "/dev/zero"\n' + MINIMAL)
    line = _one_line(run_cli("check", str(spec)), where=f"{spec}:1:1:")
    assert "character device" in line and "regular file" in line


@fifo
@pytest.mark.parametrize("what", ["spec", "extends", "hf_config"])
def test_fifo_never_blocks(tmp_path, what):
    os.mkfifo(tmp_path / "pipe.toml")
    spec = tmp_path / "spec.toml"
    if what == "spec":
        spec = tmp_path / "pipe.toml"
    elif what == "extends":
        spec.write_text('extends = "pipe.toml"\n' + MINIMAL)
    else:
        spec.write_text(MINIMAL.replace('name = "tiny"', 'name = "tiny"\nhf_config = "pipe.toml"'))
    line = _one_line(run_subprocess("check", str(spec), timeout=60), where=str(spec))
    assert "named pipe" in line


@fifo
def test_lint_folder_with_a_fifo_reports_it_and_keeps_the_other_findings(tmp_path):
    os.mkfifo(tmp_path / "pipe.toml")
    (tmp_path / "good.toml").write_text(MINIMAL + "\n[sampling]\ntemperature = 3\n")
    result = run_subprocess("lint", "-f", "concise", str(tmp_path), timeout=60)
    assert f"{tmp_path / 'pipe.toml'}:1:1: SPC003" in result.out
    assert "SMP001" in result.out and result.code == 1, result.out + result.err


def test_symlink_loop(tmp_path):
    (tmp_path / "a.toml").symlink_to(tmp_path / "b.toml")
    (tmp_path / "b.toml").symlink_to(tmp_path / "a.toml")
    line = _one_line(run_cli("check", str(tmp_path / "a.toml")), where=str(tmp_path / "a.toml"))
    assert "symbolic link loop" in line
    spec = tmp_path / "spec.toml"
    spec.write_text('extends = "a.toml"\n' + MINIMAL)
    assert "symbolic link loop" in _one_line(run_cli("check", str(spec)), where=f"{spec}:1:1:")


def test_nul_in_paths(tmp_path):
    assert "NUL" in _one_line(run_cli("check", str(tmp_path / "a\x00b.toml")), where=str(tmp_path))
    spec = tmp_path / "spec.toml"
    spec.write_text('extends = "a\\u0000b.toml"\n' + MINIMAL)
    assert "NUL" in _one_line(run_cli("check", str(spec)), where=f"{spec}:1:1:")
    for command in (["lint"], ["lint", "--config"], ["lint", "-o"]):
        result = run_cli(*command, "x\x00.toml")
        assert result.code == 2 and "NUL" in result.err and "internal error" not in result.err, result


@pytest.mark.parametrize("body", [
    "[" + ".".join(["a"] * 500) + "]\nx = 1\n",
    "[meta]\nx = " + "[" * 200 + "]" * 200 + "\n",
    "[meta]\nx = " + "{ a = " * 100 + "1" + " }" * 100 + "\n",
])
def test_deep_nesting_is_one_line(tmp_path, body):
    spec = tmp_path / "spec.toml"
    spec.write_text(MINIMAL + body)
    line = _one_line(run_cli("check", str(spec)), where=str(spec))
    assert "deep" in line


def test_deep_nesting_in_lint_keeps_the_other_files(tmp_path):
    (tmp_path / "deep.toml").write_text(MINIMAL + "[" + ".".join(["a"] * 500) + "]\nx = 1\n")
    (tmp_path / "good.toml").write_text(MINIMAL + "\n[sampling]\ntemperature = 3\n")
    result = run_cli("lint", "-f", "concise", str(tmp_path))
    assert "deep.toml:11:2: SPC001" in result.out and "good.toml" in result.out and "SMP001" in result.out
    assert "internal error" not in result.out + result.err and result.code == 1


def test_size_cap(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(MINIMAL + "#" * tomltext.MAX_BYTES)
    assert "larger than 4 MiB" in _one_line(run_cli("check", str(spec)), where=f"{spec}:1:1:")


def test_a_directory_is_not_a_spec(tmp_path):
    (tmp_path / "d.toml").mkdir()
    assert "directory" in _one_line(run_cli("check", str(tmp_path / "d.toml")), where=str(tmp_path))


def test_deep_hf_config_json(tmp_path):
    (tmp_path / "config.json").write_text('{"a": ' + "[" * 100 + "]" * 100 + "}")
    spec = tmp_path / "spec.toml"
    spec.write_text('[model]\nname = "x"\nhf_config = "config.json"\n')
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert any("deeper" in p.message for p in info.value.problems)


def test_read_bytes_refuses_what_is_not_a_regular_file(tmp_path):
    with pytest.raises(tomltext.ReadError, match="character device"):
        tomltext.read_bytes("/dev/zero")
    with pytest.raises(tomltext.ReadError) as info:
        tomltext.read_bytes(tmp_path / "missing.toml")
    assert info.value.missing


@fifo
def test_full_format_never_opens_a_fifo_to_show_its_line(tmp_path):
    """Found by the fuzz harness: the full format read the reported file to show the source line, and blocked."""
    os.mkfifo(tmp_path / "pipe.toml")
    result = run_subprocess("lint", "-f", "full", str(tmp_path), timeout=60)
    assert "SPC003" in result.out and result.code == 1, result.out + result.err


@fifo
@pytest.mark.parametrize("command", [["lint", "-o"], ["schema", "-o"]])
def test_output_into_a_fifo_is_refused(tmp_path, command):
    """Found by the fuzz harness: `lint -o FIFO` blocked forever."""
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "spec.toml").write_text(MINIMAL)
    args = [*command, str(tmp_path / "pipe")] + ([str(tmp_path / "spec.toml")] if command[0] == "lint" else [])
    result = run_subprocess(*args, timeout=60)
    assert result.code == 2 and "not a regular file" in result.err, result.out + result.err
