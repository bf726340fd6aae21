"""Options shared by every command that reads a spec."""

from __future__ import annotations

import click


class PathParam(click.Path):
    """click.Path that turns the paths click cannot stat into usage errors instead of crashes: a NUL character
    (``os.stat`` raises ValueError, which click does not catch) and an empty string (``-o ""`` would otherwise
    mean the current folder)."""

    def __init__(self, *args, output: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.output = output

    def convert(self, value, param, ctx):
        import os
        import stat

        text = value if isinstance(value, str) else str(value)
        if text == "":
            self.fail("the path is empty; name a file or folder", param, ctx)
        if "\x00" in text:
            self.fail("the path contains a NUL character", param, ctx)
        if self.output:  # writing into a FIFO or a device would block or do harm
            try:
                mode = os.stat(text).st_mode
            except OSError:
                mode = None
            if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                self.fail(f"{text} is not a regular file; name a file to write", param, ctx)
        return super().convert(value, param, ctx)

set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a spec key, e.g. --set training.epochs=2 or --set 'training.lora.targets=[\"q_proj\"]'. "
    "The value is read as TOML; a bare word is a string. Repeatable.",
)


def load_or_exit(path: str, overrides: tuple[str, ...] = ()):
    """Load a spec; on problems print each one line to stderr and exit 2."""
    from llmspec.project import load_spec
    from llmspec.spec.problems import SpecError

    try:
        return load_spec(path, overrides)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(2) from None
