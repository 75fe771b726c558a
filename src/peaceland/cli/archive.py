"""``peaceland archive status|compact``: look after the Parquet archive on S3."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from peaceland.cli.options import (
    ARCHIVE_KINDS,
    DATA_DIR_OPTION,
    JSON_TABLE_OPTION,
    KEY_PREFIX_OPTION,
    settings_from,
)
from peaceland.contract import ARCHIVER_DURABLE

if TYPE_CHECKING:
    from peaceland.archive import Kind


@click.group("archive")
def archive_group() -> None:
    """Look after the Parquet archive on S3."""


@archive_group.command("status")
@DATA_DIR_OPTION
@click.option("--durable", default=ARCHIVER_DURABLE, show_default=True, help="Consumer name.")
@KEY_PREFIX_OPTION
@JSON_TABLE_OPTION
def archive_status_command(
    data_dir: Path | None, durable: str, key_prefix: str, as_json: bool
) -> None:
    """Per consumer: pending messages (lag), in flight, objects, rows and bytes written,
    and the last flush (the newest object).

    \b
    Examples:
      peaceland archive status
      peaceland archive status --json
    """
    import asyncio
    import dataclasses
    import json

    from rich.console import Console
    from rich.table import Table

    from peaceland.archive import archive_status
    from peaceland.config import resolve_endpoints
    from peaceland.storage import S3Store

    endpoints = resolve_endpoints(settings_from(data_dir=data_dir))
    store = S3Store.connect(endpoints, timeout=10.0)
    try:
        statuses = asyncio.run(
            archive_status(endpoints, store, durable=durable, key_prefix=key_prefix)
        )
    finally:
        store.close()
    if as_json:
        rows = [dataclasses.asdict(s) for s in statuses]
        click.echo(json.dumps(rows, indent=2, default=str))
        return

    def count(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    table = Table(
        "stream",
        "pending",
        "in flight",
        "objects",
        "rows",
        "size",
        "last flush (UTC)",
        title=f"durable consumer {durable!r}"
        + (f", keys under {key_prefix}" if key_prefix else ""),
        box=None,
    )
    for s in statuses:
        extra = f" (+{s.unnamed_objects} objects)" if s.unnamed_objects else ""
        rows_text = count(s.rows) + extra
        table.add_row(
            s.stream,
            count(s.pending),
            count(s.in_flight),
            count(s.objects),
            rows_text,
            f"{s.bytes / 1e6:,.1f} MB",
            s.last_write.strftime("%Y-%m-%d %H:%M:%S") if s.last_write else "never",
        )
    Console().print(table)


@archive_group.command("compact")
@DATA_DIR_OPTION
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only this UTC date, YYYY-MM-DD [every closed hour].",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(ARCHIVE_KINDS),
    help="What to compact; repeat for several [all three].",
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be merged and deleted; change nothing."
)
@KEY_PREFIX_OPTION
@click.option(
    "--target-size",
    type=click.IntRange(min=1),
    default=None,
    help="Bytes per merged object [env PEACELAND_COMPACT_TARGET_BYTES; 128 MiB].",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=None,
    help="An hour is closed this many s after its end [env PEACELAND_COMPACT_GRACE; 600].",
)
@click.option(
    "--delete-after",
    type=click.FloatRange(min=0),
    default=None,
    help="Merged objects are deleted by a run at least this many s later, so queries "
    "reading them meanwhile still find them [env PEACELAND_COMPACT_DELETE_AFTER; 900].",
)
@JSON_TABLE_OPTION
def archive_compact_command(
    data_dir: Path | None,
    day: datetime | None,
    kinds: tuple[Kind, ...],
    dry_run: bool,
    key_prefix: str,
    target_size: int | None,
    grace: float | None,
    delete_after: float | None,
    as_json: bool,
) -> None:
    """Merge the small objects of closed hours into large ones, dropping duplicates.

    \b
    An hour (a day for dead letters) is closed once it ended more than --grace ago.
    Merged objects are written first; the objects they replace are deleted by a later
    run, --delete-after seconds on: a query running meanwhile never misses a report nor
    sees one twice. Run it periodically (cron, systemd timer), one at a time. Examples:
      peaceland archive compact --dry-run
      peaceland archive compact --date 2026-11-27 --kind reports
    """
    import asyncio
    import json

    from rich.console import Console

    from peaceland.archive import CompactionPolicy, CompactOptions, compact
    from peaceland.cli.compaction_view import progress_bar, results_json, results_table
    from peaceland.config import resolve_s3_endpoints
    from peaceland.runtime import setup_logging
    from peaceland.storage import S3Store

    settings = settings_from(
        data_dir=data_dir,
        compact_target_bytes=target_size,
        compact_grace_s=grace,
        compact_delete_after_s=delete_after,
    )
    setup_logging("WARNING", settings.log_format)
    options = CompactOptions(
        policy=CompactionPolicy(
            settings.compact_target_bytes,
            settings.compact_grace_s,
            settings.compact_delete_after_s,
        ),
        key_prefix=key_prefix,
        day=day.date() if day is not None else None,
        dry_run=dry_run,
    )
    store = S3Store.connect(resolve_s3_endpoints(settings))  # compaction needs S3 alone
    try:
        with progress_bar(not as_json) as bar:
            results = asyncio.run(compact(store, kinds or ARCHIVE_KINDS, options, progress=bar))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(results_json(results), indent=2))
        return
    Console().print(results_table(results))
