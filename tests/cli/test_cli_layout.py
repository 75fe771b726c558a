"""The command line's shape: one module per group, no cycle, choices true to the packages."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

import click
from click.testing import CliRunner

import peaceland.cli
from peaceland.analytics import FORMATS, Format
from peaceland.archive import KINDS, Kind
from peaceland.cli import cli, options
from peaceland.contract import ALERTER_DURABLE, ARCHIVER_DURABLE, Severity
from peaceland.delivery import Status

CLI_DIR = Path(peaceland.cli.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_group_modules_never_import_the_root() -> None:
    for path in CLI_DIR.glob("*.py"):
        if path.name in ("__init__.py", "root.py"):
            continue
        imported = _imported_modules(path)
        assert "peaceland.cli.root" not in imported, path.name
        assert "peaceland.cli.cli" not in imported, path.name


def test_every_cli_module_stays_small() -> None:
    for path in CLI_DIR.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name


def test_choices_are_exactly_the_packages_values() -> None:
    assert options.ARCHIVE_KINDS == KINDS == typing.get_args(Kind)
    assert options.OUTPUT_FORMATS == FORMATS == typing.get_args(Format)
    assert set(options.SEVERITIES) == set(typing.get_args(Severity))
    assert set(options.INCIDENT_STATUSES) == set(typing.get_args(Status))


def test_durable_defaults_are_the_components_own() -> None:
    # The contract's durable names (DESIGN.md): users' scripts and dashboards rely on them.
    assert (ALERTER_DURABLE, ARCHIVER_DURABLE) == ("alerter", "archiver")

    def default(path: list[str], option: str) -> object:
        command: click.Command = cli
        for name in path:
            assert isinstance(command, click.Group)
            found = command.get_command(click.Context(command), name)
            assert found is not None
            command = found
        (param,) = [p for p in command.params if p.name == option]
        return param.default

    assert default(["alerter"], "durable") == ALERTER_DURABLE
    assert default(["archiver"], "durable") == ARCHIVER_DURABLE
    assert default(["archive", "status"], "durable") == ARCHIVER_DURABLE


def test_every_group_is_registered() -> None:
    ctx = click.Context(cli)
    assert set(cli.list_commands(ctx)) == {
        "alerter",
        "alerts",
        "archive",
        "archiver",
        "audit",
        "compactor",
        "dashboard",
        "demo",
        "down",
        "drone",
        "gateway",
        "run",
        "simulate",
        "sql",
        "stats",
        "status",
        "token",
        "up",
        "webhooks",
    }


def test_help_loads_none_of_the_heavy_packages() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from peaceland.cli import cli;"
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output;"
        "print(','.join(m for m in ('duckdb', 'pyarrow', 'peaceland.archive', 'peaceland.web',"
        " 'peaceland.analytics', 'peaceland.alerting') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_bad_choice_is_refused_before_any_work() -> None:
    result = CliRunner().invoke(cli, ["archive", "compact", "--kind", "everything"])
    assert result.exit_code == 2
    assert "reports" in result.output
