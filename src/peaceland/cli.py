"""The ``peaceland`` command line: parses arguments and calls the modules that do the work."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from peaceland import __version__
from peaceland.config import Settings, load_settings
from peaceland.errors import PeacelandError

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory holding services.json, server data and logs "
    "[env PEACELAND_DATA_DIR; default .peaceland].",
)


def settings_from(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except PeacelandError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peaceland")
def cli() -> None:
    """Peaceland: drone reports in, alerts out, every report archived and queryable.

    \b
    Quick start:
      peaceland up                      start the embedded NATS and S3 servers
      peaceland simulate --drones 100 --duration 60
      peaceland status
      peaceland down
    """


def main() -> None:
    """Console entry point: expected failures print one line and exit non-zero."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PeacelandError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
