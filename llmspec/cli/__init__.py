"""The `llmspec` command. This layer only parses arguments and hands off; each command lives in its own
module and is imported only when it runs, so `llmspec lint` never pays for what `llmspec eval` imports."""

from __future__ import annotations

import importlib

import click

from llmspec._version import __version__

# command name -> "module:attribute"; modules are imported lazily
COMMANDS: dict[str, str] = {
    "accelerators": "llmspec.cli.accelerators:accelerators",
    "calibrate": "llmspec.cli.calibrate:calibrate_cmd",
    "check": "llmspec.cli.check:check",
    "diff": "llmspec.cli.report:diff",
    "report": "llmspec.cli.report:report",
    "eval": "llmspec.cli.eval:eval_cmd",
    "export": "llmspec.cli.export:export_cmd",
    "estimate": "llmspec.cli.estimate:estimate_cmd",
    "import": "llmspec.cli.import_:import_cmd",
    "init": "llmspec.cli.init:init",
    "lint": "llmspec.cli.lint:lint",
    "rule": "llmspec.cli.lint:rule",
    "rules": "llmspec.cli.lint:rules",
    "schema": "llmspec.cli.schema:schema",
    "sweep": "llmspec.cli.sweep:sweep",
}


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context):
        # commands return their exit status; make it the process's (and CliRunner's) exit code
        result = super().invoke(ctx)
        if isinstance(result, int) and not isinstance(result, bool) and result:
            ctx.exit(result)
        return result

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="llmspec")
def cli() -> None:
    """Specs, linting, estimates and eval gates for LLM training runs.

    A spec is one TOML file that describes a model and a run. Start with `llmspec check SPEC`
    and `llmspec lint SPEC`; see https://github.com/llmspec/llmspec#readme.
    """


# The PyPI name `llmspec` belongs to an unrelated 2023 project whose wheel also ships a top-level `llmspec/`
# package; installed beside this one (distribution `llmspec-cli`), one overwrites the other's files.
FOREIGN_DISTRIBUTION = "llmspec"
OWN_DISTRIBUTION = "llmspec-cli"


def foreign_package_conflict() -> str | None:
    """One line saying how to repair the environment when the unrelated `llmspec` distribution is installed here."""
    from pathlib import Path

    # One stat on every start (the pre-commit path): the foreign wheel's own module `llmspec/llmspec.py` lands in
    # this package's folder, whichever was installed first. Only then is the (slower) metadata read for the version.
    if not (Path(__file__).resolve().parent.parent / "llmspec.py").exists():
        return None
    from importlib import metadata

    try:
        version = metadata.distribution(FOREIGN_DISTRIBUTION).version
    except metadata.PackageNotFoundError:
        version = "(version unknown)"
    return (
        f"llmspec: the unrelated PyPI package '{FOREIGN_DISTRIBUTION}' {version} is installed in this "
        f"environment and also provides the import package 'llmspec', so files of one overwrite the other; run "
        f"`pip uninstall -y {FOREIGN_DISTRIBUTION} && pip install --force-reinstall --no-deps {OWN_DISTRIBUTION}`"
    )


def main() -> None:
    from llmspec.cli._errors import EXIT_USAGE, run

    conflict = foreign_package_conflict()
    if conflict:
        click.echo(conflict, err=True)
        raise SystemExit(EXIT_USAGE)
    run(cli)
