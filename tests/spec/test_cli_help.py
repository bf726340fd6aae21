"""`llmspec --help`, every subcommand's --help, no-argument help and --version."""

from __future__ import annotations

import re

import pytest
from spec_helpers import run_cli, run_subprocess

from llmspec import __version__
from llmspec.cli import COMMANDS, cli


def test_top_level_help_describes_and_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.code == 0
    assert result.out.startswith("Usage: llmspec [OPTIONS] COMMAND [ARGS]...")
    assert "Specs, linting, estimates and eval gates" in result.out
    listing = result.out.split("Commands:", 1)[1]
    for name in COMMANDS:
        match = re.search(rf"^  {re.escape(name)}\s+(\S.*)$", listing, re.M)
        assert match, f"`{name}` is not listed in `llmspec --help`"
        assert len(match.group(1)) > 10, f"`{name}` has no one-line description"


def test_short_help_option() -> None:
    assert run_cli("-h").out == run_cli("--help").out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_subcommand_help(name: str) -> None:
    result = run_cli(name, "--help")
    assert result.code == 0, result.out + result.err
    assert result.out.startswith(f"Usage: llmspec {name} ")
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    description = (command.help or "").strip()
    assert len(description) > 20, f"`llmspec {name}` has no description"
    words = " ".join(description.split()[:6])
    assert words in " ".join(result.out.split()), "the description is not shown"
    assert "Options:" in result.out and "--help" in result.out
    assert "Traceback" not in result.out + result.err


def test_no_arguments_prints_help() -> None:
    result = run_cli()
    assert "Usage: llmspec [OPTIONS] COMMAND [ARGS]..." in result.out + result.err
    assert "Commands:" in result.out + result.err
    assert result.code == 2  # click's convention: a bare group is a usage error that shows the help


def test_version() -> None:
    result = run_cli("--version")
    assert (result.code, result.out) == (0, f"llmspec, version {__version__}\n")


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("chekc")
    assert result.code == 2
    assert "Error: No such command 'chekc'." in result.err
    assert "Try 'llmspec --help' for help." in result.err


def test_help_and_version_in_a_real_process() -> None:
    result = run_subprocess("--help")
    assert result.code == 0 and "Commands:" in result.out and result.err == ""
    version = run_subprocess("--version")
    assert (version.code, version.out.strip()) == (0, f"llmspec, version {__version__}")


def test_check_without_arguments_is_a_usage_error() -> None:
    result = run_cli("check")
    assert result.code == 2
    assert "Missing argument 'SPEC...'" in result.err


# the commands whose help this project's spine owns; the others are listed in their own areas' tests
SPINE_COMMANDS = ("accelerators", "check", "diff", "init", "report", "schema")


@pytest.mark.parametrize("name", SPINE_COMMANDS)
def test_listing_shows_a_whole_sentence_in_an_80_column_terminal(name: str) -> None:
    """click cuts a long first sentence to fit and ends it with '...'; a short_help keeps the listing readable."""
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    line = re.search(rf"^  {name}\s+(\S.*)$", result.output, re.M)
    assert line, result.output
    assert not line.group(1).endswith("..."), line.group(0)
    assert len(line.group(0)) <= 80
