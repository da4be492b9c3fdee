from __future__ import annotations

import asyncio

from kiss.client.events import parse_entry
from kiss.client.inbox import Inbox
from tests.client.conftest import entry


def make(capacity: int = 2) -> tuple[Inbox, list[int]]:
    woken: list[int] = []
    inbox = Inbox("s", "g", "d", capacity, consumer="c", on_room=lambda: woken.append(1))
    return inbox, woken


async def test_full_inbox_says_so_and_wakes_the_reader_when_drained() -> None:
    inbox, woken = make()
    inbox.put(parse_entry("1-0", entry("1")))
    assert inbox.has_room()
    inbox.put(parse_entry("2-0", entry("1")))
    assert not inbox.has_room()
    first = await inbox.get()
    assert first.stream_id == "1-0" and woken == [1]
    await inbox.get()
    assert woken == [1] and len(inbox) == 0


async def test_an_entry_held_here_is_not_queued_twice_until_settled() -> None:
    inbox, _ = make(capacity=10)
    inbox.put(parse_entry("1-0", entry("1")))
    inbox.put(parse_entry("1-0", entry("1"), delivery_count=2))
    assert len(inbox) == 1 and inbox.in_flight == {"1-0"}
    await inbox.get()
    inbox.settle("1-0")
    assert inbox.in_flight == set()


async def test_get_waits_for_an_entry() -> None:
    inbox, _ = make()
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    inbox.put(parse_entry("5-0", entry("1")))
    assert (await asyncio.wait_for(getter, 5)).stream_id == "5-0"
