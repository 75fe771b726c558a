"""``MemoryStore``, the in-memory twin of the object store: what the archive's unit tests
rely on (put/get/list/delete, transfers, switchable outages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from peaceland.contract import StoreError
from peaceland.storage import ManagedStore
from peaceland.testing import MemoryStore


async def test_objects_round_trip_and_list_by_prefix() -> None:
    store = MemoryStore()
    await store.put("reports/b", b"2")
    await store.put("reports/a", b"1")
    await store.put("alerts/a", b"x")
    assert await store.get("reports/a") == b"1"
    listed = await store.list("reports/")
    assert [(o.key, o.size) for o in listed] == [("reports/a", 1), ("reports/b", 1)]
    await store.delete(["reports/a", "missing"])
    assert [o.key for o in await store.list("")] == ["alerts/a", "reports/b"]
    assert store.puts == 3


async def test_a_missing_key_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="no such key"):
        await MemoryStore().get("nope")


async def test_outages_fail_every_call_until_it_comes_back() -> None:
    store = MemoryStore()
    store.go_down("timeout")
    for call in (store.put("k", b"v"), store.get("k"), store.list(""), store.delete(["k"])):
        with pytest.raises(StoreError, match="timeout"):
            await call
    assert (store.puts, store.failed_puts) == (0, 1)
    store.come_back()
    await store.put("k", b"v")
    assert await store.get("k") == b"v"


async def test_files_are_uploaded_and_downloaded(tmp_path: Path) -> None:
    store: ManagedStore = MemoryStore()
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(b"parquet")
    await store.upload("k", source)
    await store.download("k", target)
    assert target.read_bytes() == b"parquet"
