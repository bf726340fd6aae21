"""Text from a spec or a file name in terminal and machine output (issue 11, findings 1 and 8): `estimate` and
`check` show control characters visibly, `estimate --format json` is strict JSON, eval's junit.xml parses."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from llmspec.cli import cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "examples" / "tiny-base.toml"
CONTROL = "\r\n\x1b\x07\u2028\x85"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _strict(text: str):
    def refuse(name):
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_estimate_shows_control_characters_of_the_name_visibly(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(TINY.read_text().replace('name = "tiny-base"', r'name = "x\r\nforged\u001b]0;pwned\u0007[red]"'))
    result = _run("estimate", str(spec))
    assert result.exit_code == 0, result.output
    assert not any(ch in result.output for ch in "\r\x1b\x07")
    assert result.output.splitlines()[0].startswith("x\\r\\nforged\\x1b]0;pwned\\x07[red]  ")  # markup shown too


def test_an_mfu_too_small_for_finite_times_is_refused_at_its_key() -> None:
    # hardware.mfu = 1e-310 once overflowed the wall-clock time into Infinity (written as null with a warning);
    # the spec now bounds it at 0.001, so every time the estimate prints is finite
    spec = ROOT / "examples" / "llama2-7b-lora-a100.toml"
    result = _run("estimate", str(spec), "--set", "hardware.mfu=1e-310", "--format", "json")
    assert result.exit_code == 2
    assert result.stderr.strip() == "<--set hardware.mfu>:1:1: hardware.mfu: 1e-310 is out of range; it must be >= 0.001"
    assert result.stdout == ""


def test_estimate_json_is_strict_at_the_smallest_mfu() -> None:
    spec = ROOT / "examples" / "llama2-7b-lora-a100.toml"
    result = _run("estimate", str(spec), "--set", "hardware.mfu=0.001", "--set", "training.epochs=100000",
                  "--set", "training.dataset_tokens=1e16", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = _strict(result.stdout)
    assert data["compute"]["wall_hours"] > 1e9
    assert "overflowed" not in result.stderr


def test_check_shows_a_file_name_with_control_characters_visibly(tmp_path: Path) -> None:
    spec = tmp_path / "x\rspec.toml: ok\x1b]0;t\x07.toml"
    shutil.copy(TINY, spec)
    result = _run("check", str(spec))
    assert result.exit_code == 0
    assert result.output == f"{tmp_path}/x\\rspec.toml: ok\\x1b]0;t\\x07.toml: ok\n"


def test_eval_junit_parses_whatever_the_gate_text() -> None:
    from llmspec.eval.outputs import junit

    name = f"t{CONTROL}\x00\ufffe/acc{CONTROL}"
    results = {"run": {}, "gates": [{"metric": name, "kind": f"threshold{CONTROL}", "status": "fail", "value": 0.5,
                                     "reason": f"below\x00{CONTROL}]]><!--"}]}
    root = ET.fromstring(junit(results).encode("utf-8"))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.text is not None and failure.text.startswith("below\\x00\\r\n")


def test_eval_console_tables_show_names_and_reasons_as_text(capsys) -> None:
    from llmspec.cli.eval import _print_table

    _print_table({"tasks": {"t\x1b]0;x\x07": {"metrics": {"acc[/]": {"value": 0.5, "n": 3}}}},
                  "gates": [{"metric": "t[red]/acc", "kind": "threshold", "status": "fail",
                             "reason": "below [/] \r\nforged"}]})
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\r\x1b\x07")
    assert "t\\x1b]0;x\\x07" in out and "acc[/]" in out and "t[red]/acc" in out and "below [/] \\r\\nforged" in out
