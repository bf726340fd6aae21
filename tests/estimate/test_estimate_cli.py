"""`llmspec estimate` through click's CliRunner and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from llmspec.cli import cli
from tests.estimate.conftest import LLAMA2_7B


def test_table(write_spec):
    result = CliRunner().invoke(cli, ["estimate", str(write_spec(LLAMA2_7B))], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "training memory per GPU" in result.output
    assert "does not fit" in result.output
    assert "what would fit" in result.output
    assert "--set" in result.output


def test_json_with_set(write_spec):
    path = str(write_spec(LLAMA2_7B))
    result = CliRunner().invoke(cli, ["estimate", path, "--format", "json", "--set", "training.method=qlora"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema_version"] == 1
    assert data["params"]["trainable"] < data["params"]["total"] / 100
    assert data["memory"]["training"]["fits"] is True
    assert data["fits"] == []


def test_invalid_spec_exits_2_with_one_line_per_problem(write_spec):
    bad = write_spec(LLAMA2_7B.replace("n_heads = 32", "n_heads = -1"))
    result = CliRunner().invoke(cli, ["estimate", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:" in result.output and "n_heads" in result.output
    assert "Traceback" not in result.output


def test_console_script(write_spec):
    exe = [sys.executable, "-c", "from llmspec.cli import main; main()"]
    out = subprocess.run(exe + ["estimate", str(write_spec(LLAMA2_7B)), "--format", "json",
                                "--set", "training.optimizer_impl=foreach"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["memory"]["training"]["peak_phase"] == "optimizer"


def test_measure_without_the_eval_extra_is_one_line(write_spec):
    # torch is installed here; hide it the way a core-only install lacks it (sys.modules[name] = None)
    code = ("import sys; sys.modules['torch'] = None; sys.argv = ['llmspec'] + sys.argv[1:]\n"
            "from llmspec.cli import main; main()")
    out = subprocess.run([sys.executable, "-c", code, "estimate", str(write_spec(LLAMA2_7B)), "--measure"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "pip install 'llmspec-cli[eval]'" in out.stderr
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
