"""JetStream reply subjects, and the in-memory twin of a durable pull consumer."""

from __future__ import annotations

import pytest

from peaceland.stream import ACK, PROGRESS, TERM, AckInfo, parse_ack_subject
from peaceland.testing import MemoryStream


def test_both_reply_subject_formats_parse() -> None:
    v1 = "$JS.ACK.REPORTS.archiver.3.1234.99.1795000000123456789.42"
    v2 = "$JS.ACK.hub.ACCHASH.REPORTS.archiver.3.1234.99.1795000000123456789.42.tok"
    expected = AckInfo(
        stream_seq=1234,
        delivered=3,
        timestamp_ns=1795000000123456789,
        consumer_seq=99,
        consumer="archiver",
        pending=42,
    )
    assert parse_ack_subject(v1) == expected
    assert parse_ack_subject(v2) == expected


@pytest.mark.parametrize(
    "reply",
    ["", "_INBOX.abc", "$JS.ACK.a.b.c", "$JS.API.a.b.1.2.3.4.5", "$JS.ACK.R.c.x.1.2.3.4"],
)
def test_anything_else_is_a_value_error(reply: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - int() or ours, both say what is wrong
        parse_ack_subject(reply)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_twin_redelivers_what_is_not_settled_in_time() -> None:
    clock = Clock()
    stream = MemoryStream(ack_wait_s=10, clock=clock)
    for n in range(5):
        stream.publish("peaceland.reports.d", str(n).encode())
    first = await stream.fetch(3, 0, 10**6)
    assert [m.data for m in first] == [b"0", b"1", b"2"]
    await stream.settle([first[0].reply], ACK)
    await stream.settle([first[1].reply], TERM)
    clock.now = 5
    await stream.settle([first[2].reply], PROGRESS)
    clock.now = 11
    assert [m.data for m in await stream.fetch(10, 0, 10**6)] == [b"3", b"4"]
    clock.now = 16  # seq 3 marked in progress at 5: due at 15
    again = await stream.fetch(10, 0, 10**6)
    assert [m.data for m in again] == [b"2"]
    assert parse_ack_subject(again[0].reply).delivered == 2
    assert stream.unsettled == 3
    assert (stream.acked, stream.terminated) == ({1}, {2})


async def test_twin_honours_max_bytes_but_delivers_at_least_one() -> None:
    stream = MemoryStream()
    for _ in range(3):
        stream.publish("s", b"x" * 100)
    assert len(await stream.fetch(10, 0, 150)) == 1
    assert len(await stream.fetch(10, 0, 1)) == 1
    assert len(await stream.fetch(10, 0, 10**6)) == 1
    assert await stream.fetch(10, 0, 10**6) == []
