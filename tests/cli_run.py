"""`llmspec ARGS` through the real entry point, ``llmspec.cli.main``, with exit codes as the shell sees them (return
values and ``SystemExit`` alike), stdout and stderr apart. Shared by the bridges and integrations tests."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from click.testing import CliRunner


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> Result:
    from llmspec.cli import main

    runner = CliRunner()
    old_argv = sys.argv
    with runner.isolation() as streams:
        sys.argv = ["llmspec", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old_argv
        out, err = streams[0].getvalue(), streams[1].getvalue()
    return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
