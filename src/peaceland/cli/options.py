"""What every command group shares: ``--data-dir``, the settings, and the typed choices.

The choices are spelled out here, not imported, so that ``peaceland --help`` loads none of
the heavy packages; their annotations tie each to the package's ``Literal`` (mypy checks
that every value is valid, ``tests/cli/test_cli_layout.py`` that none is missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from peaceland.config import Settings, load_settings
from peaceland.contract import PeacelandError, Severity

if TYPE_CHECKING:
    from peaceland.analytics import Format
    from peaceland.archive import Kind
    from peaceland.delivery import Status

ARCHIVE_KINDS: Final[tuple[Kind, ...]] = ("reports", "alerts", "deadletter")
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "major", "minor")
INCIDENT_STATUSES: Final[tuple[Status, ...]] = ("open", "acknowledged", "resolved")
OUTPUT_FORMATS: Final[tuple[Format, ...]] = ("table", "csv", "json")

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory holding services.json, server data and logs "
    "[env PEACELAND_DATA_DIR; default .peaceland].",
)

#: The archive written by ``peaceland archiver --key-prefix``, for the commands that read it.
KEY_PREFIX_OPTION = click.option(
    "--key-prefix", default="", help="As given to `peaceland archiver` [none]."
)
JSON_TABLE_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of a table."
)


def settings_from(**overrides: Any) -> Settings:
    """The settings of this process, CLI options over ``PEACELAND_*`` over ``peaceland.toml``."""
    try:
        settings = load_settings(**overrides)
    except PeacelandError as exc:
        raise click.ClickException(str(exc)) from None
    return settings
