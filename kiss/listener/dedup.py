"""A bounded set of recently seen message ids: drops a duplicate before it costs a Redis write.

Redis (SET NX with a TTL, in the writer's script) is the authority across restarts and
processes; this only catches the common case, a message seen twice by this process. Two
generations of plain sets keep it O(1) and cheap: the last ``capacity`` to ``2 * capacity``
ids are remembered.
"""

from __future__ import annotations


class RecentIds:
    def __init__(self, capacity: int = 4_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._current: set[str] = set()
        self._previous: set[str] = set()

    def __len__(self) -> int:
        return len(self._current | self._previous)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._current or message_id in self._previous

    def seen(self, message_id: str) -> bool:
        """True if ``message_id`` was already seen; records it otherwise."""
        if message_id in self._current or message_id in self._previous:
            return True
        self._current.add(message_id)
        if len(self._current) >= self.capacity:
            self._previous, self._current = self._current, set()
        return False
