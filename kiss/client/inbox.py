"""One bot's local queue between the shared reader and its handlers.

The reader skips a stream whose inbox is full, so a slow bot leaves its entries in Redis
(not yet delivered) instead of in memory; ``in_flight`` keeps the reclaimer from taking
back entries this process already holds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from kiss.client.events import ChannelEvent


@dataclass(eq=False)
class Inbox:
    stream: str
    group: str
    dead_letters: str
    capacity: int
    consumer: str = field(kw_only=True)  # this process's name in the group: bot@instance
    on_room: Callable[[], None] = lambda: None
    in_flight: set[str] = field(default_factory=set)
    _queue: deque[ChannelEvent] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def has_room(self) -> bool:
        return len(self._queue) < self.capacity

    def put(self, event: ChannelEvent) -> None:
        if event.stream_id in self.in_flight:
            return  # claimed again while still held here: one copy is enough
        self.in_flight.add(event.stream_id)
        self._queue.append(event)
        self._ready.set()

    async def get(self) -> ChannelEvent:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        was_full = not self.has_room()
        event = self._queue.popleft()
        if was_full:
            self.on_room()
        return event

    def settle(self, stream_id: str) -> None:
        """The handler finished (acked or left pending): the reclaimer may see it again."""
        self.in_flight.discard(stream_id)

    def __len__(self) -> int:
        return len(self._queue)
