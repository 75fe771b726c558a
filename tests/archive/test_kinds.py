"""The archive's kind table: each kind's facts agree with the contract and with each other."""

from __future__ import annotations

import dataclasses

import pytest

from peaceland.archive import (
    ALERTS_KIND,
    ARCHIVE_KINDS,
    DEADLETTER_KIND,
    KINDS,
    REPORTS_KIND,
    ArchiveKind,
    archive_kind,
)
from peaceland.contract import ALERTS_STREAM, DEADLETTER_STREAM, REPORTS_STREAM, Alert


def test_the_table_holds_the_contracts_kinds_and_streams() -> None:
    assert KINDS == ("reports", "alerts", "deadletter")
    assert {k.name: k.stream for k in ARCHIVE_KINDS.values()} == {
        "reports": REPORTS_STREAM,
        "alerts": ALERTS_STREAM,
        "deadletter": DEADLETTER_STREAM,
    }
    assert [ARCHIVE_KINDS[name].name for name in KINDS] == list(KINDS)


def test_partitioning_and_prefixes_are_the_storage_layout() -> None:
    assert [(k.name, k.partitioning, k.hourly) for k in ARCHIVE_KINDS.values()] == [
        ("reports", "hour", True),
        ("alerts", "hour", True),
        ("deadletter", "day", False),
    ]
    assert REPORTS_KIND.prefix() == "reports/"
    assert DEADLETTER_KIND.prefix("p/") == "p/deadletter/"


def test_views_show_the_contract_columns() -> None:
    assert REPORTS_KIND.view == "reports"
    assert REPORTS_KIND.view_columns == (*REPORTS_KIND.schema.names[:7], "extra", "received_at")
    assert ALERTS_KIND.view == "alerts"
    assert list(ALERTS_KIND.view_columns) == list(Alert.__struct_fields__)
    assert DEADLETTER_KIND.view is None


def test_dedup_keys_identify_a_row() -> None:
    assert REPORTS_KIND.dedup_keys == ("report_id",)
    assert ALERTS_KIND.dedup_keys == ("alert_id",)
    assert DEADLETTER_KIND.dedup_keys == ("stream_seq", "received_at")


@pytest.mark.parametrize("kind", list(ARCHIVE_KINDS.values()), ids=list(KINDS))
def test_rows_are_built_for_the_kind_they_belong_to(kind: ArchiveKind) -> None:
    assert kind.rows.kind == kind.name
    assert kind.schema is kind.rows.schema


def test_a_kind_naming_a_column_its_schema_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="no column nope"):
        dataclasses.replace(REPORTS_KIND, dedup_keys=("nope",))
    with pytest.raises(ValueError, match="rows of alerts"):
        dataclasses.replace(REPORTS_KIND, rows=ALERTS_KIND.rows)


def test_archive_kind_by_name() -> None:
    assert archive_kind("alerts") is ALERTS_KIND
    with pytest.raises(ValueError, match="no archive kind 'sightings'"):
        archive_kind("sightings")
