"""What ``peaceland archive compact`` shows: a progress bar while it works, a table after."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from peaceland.archive import KindResult, Plan


class ProgressBar:
    """``archive_compactor.Progress`` as a rich progress bar: bytes merged per kind."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def planned(self, plan: Plan) -> None:
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(
            f"{plan.kind}: {len(plan.groups)} merges", total=plan.bytes or None
        )

    def advanced(self, nbytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, nbytes)


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressBar | None]:
    """A progress bar on stderr when it is a terminal and ``enabled``."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with ProgressBar(console) as bar:
        yield bar


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.1f} MB"


def results_table(results: Sequence[KindResult]) -> Table:
    dry = any(r.dry_run for r in results)
    table = Table(
        "kind",
        "closed / open partitions",
        "merges",
        "objects in → out",
        "size in → out",
        "rows in → out",
        "duplicates dropped",
        "deleted",
        "awaiting deletion",
        title="compaction (dry run: nothing changed)" if dry else "compaction",
        box=None,
    )
    for r in results:
        rows = "-" if r.dry_run else f"{r.rows_in:,} → {r.rows_out:,}"
        table.add_row(
            r.kind,
            f"{r.closed_partitions:,} / {r.open_partitions:,}",
            f"{r.groups:,}" + (f" ({r.failed_groups:,} failed)" if r.failed_groups else ""),
            f"{r.objects_in:,} → {'-' if r.dry_run else f'{r.objects_out:,}'}",
            f"{_size(r.bytes_in)} → {'-' if r.dry_run else _size(r.bytes_out)}",
            rows,
            "-" if r.dry_run else f"{r.duplicates_dropped:,}",
            f"{r.deleted:,}",
            f"{r.awaiting_deletion:,}",
        )
    return table


def results_json(results: Sequence[KindResult]) -> list[dict[str, Any]]:
    return [{**dataclasses.asdict(r), "duplicates_dropped": r.duplicates_dropped} for r in results]
