"""How the command line ends: user-fixable errors are one line and an exit code; anything unexpected says so
plainly, points at the bug tracker and keeps the traceback out of the terminal (unless LLMSPEC_DEBUG=1)."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

import click

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())
ISSUES_URL = "https://github.com/llmspec/llmspec/issues"


def run(group: click.Group) -> None:
    try:
        code = group.main(standalone_mode=False, prog_name="llmspec")
    except _NO_ARGS_IS_HELP as exc:  # click >= 8.2 raises this for a bare group; show the help
        click.echo(exc.ctx.get_help() if getattr(exc, "ctx", None) else str(exc))
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code in (1, 2) else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("llmspec: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("llmspec: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception:
        internal_error()
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def internal_error() -> None:
    if os.environ.get("LLMSPEC_DEBUG"):
        traceback.print_exc()
    else:
        fd, path = tempfile.mkstemp(prefix="llmspec-crash-", suffix=".txt")
        with os.fdopen(fd, "w") as handle:
            traceback.print_exc(file=handle)
        exc = sys.exc_info()[1]
        click.echo(
            f"llmspec: internal error ({type(exc).__name__}: {exc}); this is a bug, please report it at "
            f"{ISSUES_URL} with the traceback saved in {path}",
            err=True,
        )
    sys.exit(EXIT_INFRA)
