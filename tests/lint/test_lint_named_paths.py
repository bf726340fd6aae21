"""What `llmspec lint` says of the paths it is given, found by the newcomer trial of the README:

- a missing path printed `llmspec lint: nope.toml: no such file or directory` (no position, only the first one)
  where `llmspec check` prints `nope.toml:1:1: nope.toml: no such file`: lint now prints check's line for every
  missing path, exit 2, and exits 2 like check on a spec file it cannot read (reported as SPC003 too);
- a named TOML file that is no spec was skipped without a word when a spec was named beside it: one line on stderr
  now says so (exit unchanged, for pre-commit's file lists); --require-specs (for CI) makes a named non-spec, or a
  run that finds no spec at all, exit 2 with one line."""

from __future__ import annotations

import os

from click.testing import CliRunner
from lint_helpers import write_spec

from llmspec.cli import cli

CLEAN = '[sampling]\ntemperature = 0.7\n'
NOT_A_SPEC = '[package]\nname = "x"\nversion = "0.1.0"\n'


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_missing_paths_are_said_as_check_says_them(tmp_path):
    nope, gone = tmp_path / "nope.toml", tmp_path / "gone"
    lint = run("lint", str(nope), str(gone))
    check = run("check", str(nope))
    assert lint.exit_code == check.exit_code == 2
    assert lint.output == f"{nope}:1:1: {nope}: no such file\n{gone}:1:1: {gone}: no such file or folder\n"
    assert check.output == f"{nope}:1:1: {nope}: no such file\n"


def test_unreadable_spec_is_exit_2_as_in_check(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    lint = run("lint", str(fifo), "-f", "concise")
    check = run("check", str(fifo))
    assert lint.exit_code == check.exit_code == 2
    reason = f"{fifo}: is a named pipe (FIFO), not a regular file; name a file"
    assert f"{fifo}:1:1: SPC003 [error] {reason}" in lint.output
    assert check.output == f"{fifo}:1:1: {reason}\n"
    assert run("lint", str(fifo), "--exit-zero").exit_code == 0  # reported, and --exit-zero keeps its word


def test_named_non_spec_beside_a_spec_is_said_not_skipped_silently(tmp_path):
    spec = write_spec(tmp_path, CLEAN)
    other = tmp_path / "Cargo.toml"
    other.write_text(NOT_A_SPEC, encoding="utf-8")
    outcome = run("lint", str(spec), str(other), "-f", "concise")
    assert outcome.exit_code == 0
    assert (f"llmspec lint: skipped 1 named file(s) that are no spec: {other} (--require-specs makes this an error)"
            in outcome.output)


def test_require_specs_makes_a_named_non_spec_exit_2(tmp_path):
    spec = write_spec(tmp_path, CLEAN)
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert run("lint", str(spec), "--require-specs").exit_code == 0
    outcome = run("lint", str(spec), str(other), "--require-specs", "-f", "concise")
    assert outcome.exit_code == 2
    assert f"{other}:1:1: not an llmspec spec (no [model] table or extends key" in outcome.output
    assert "skipped 1 named file" not in outcome.output


def test_require_specs_makes_an_empty_run_exit_2(tmp_path):
    empty = tmp_path / "specs"
    empty.mkdir()
    assert run("lint", str(empty)).exit_code == 0  # pre-commit and folder runs: nothing to lint is fine
    outcome = run("lint", str(empty), "--require-specs")
    assert outcome.exit_code == 2
    assert f"{empty}: no spec files found; check the path, or drop --require-specs" in outcome.output
