"""Five unplanned closes (4006) of the websocket session within 60 s, on the websocket
transport. Target: every subscription back on the new session after each close, and never
Twitch's 429 "maximum subscriptions with type and condition exceeded" (it keeps a lost
session's subscriptions disabled for a minute, 3 per type+condition at most).

The flow and the figures are tests/faults/ws_quota.py's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fault_scenarios import Figures
from tests.faults.ws_quota import repeated_closes
from tests.redis_server import PrivateRedis


def run(quick: bool) -> Figures:
    within = 20.0 if quick else 55.0
    with tempfile.TemporaryDirectory(prefix="websocket-4006-") as workdir:
        server = PrivateRedis(str(Path(workdir) / "redis"))
        Path(server.directory).mkdir()
        server.start()
        try:
            figures = repeated_closes(server.url, Path(workdir), closes=5, within=within)
        finally:
            server.stop()
    return {
        "scenario": "websocket_4006",
        **figures,
        "lost_after_socket": None,
        "lost_at_twitch": None,
        "duplicated": None,
        "order_inversions": None,
    }
