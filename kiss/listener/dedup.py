"""A bounded set of recently seen message ids: drops a duplicate before it costs a Redis write.

Redis (SET NX with a TTL, in the writer's script) is the authority across restarts and
processes; this only catches the common case, a message seen twice by this process.
"""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def seen(self, message_id: str) -> bool:
        """True if ``message_id`` was already seen; records it otherwise."""
        if message_id in self._ids:
            return True
        self._ids[message_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False
