"""The ``peaceland`` group and its entry point; every command group is added here.

Group modules never import this one (what they share is in ``cli/options.py``), so the
imports run one way: root -> groups -> options.
"""

from __future__ import annotations

import sys

import click

from peaceland import __version__
from peaceland.cli import access, alerts, analytics, archive, components, servers
from peaceland.contract import PeacelandError


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


for _command in (
    *components.COMMANDS,
    *servers.COMMANDS,
    archive.archive_group,
    alerts.alerts_group,
    *analytics.COMMANDS,
    *access.COMMANDS,
):
    cli.add_command(_command)


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
