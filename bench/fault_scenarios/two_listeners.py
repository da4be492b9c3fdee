"""Two listeners share a conduit of 4 shards under a flood; one is killed (kill -9). Target: the
survivor holds every shard and has bound each to a session of its own within 3 s of the kill
(default lease, 2 s). Events Twitch sent to the dead shards meanwhile are lost at Twitch.
"""

from __future__ import annotations

import time

from harness import say, wait_for

from fault_scenarios import Figures
from fault_scenarios.listener_restart import order_inversions, rig

TARGET_BOUND_SECONDS = 3.0


def run(quick: bool) -> Figures:
    rate = 1_000 if quick else 4_000
    with rig(shards=4, channels=100) as hub:
        one = hub.start("one")
        hub.conduit_id()
        hub.start("two")
        wait_for(
            lambda: sorted(str(h) for h in hub.holders().values()) == ["one"] * 2 + ["two"] * 2,
            60,
            "two shards each",
        )
        wait_for(lambda: len(hub.bound()) == 4, 30, "four shards bound")
        hub.subscribe()
        duration = 8.0
        say(f"two_listeners: flood at {rate} ev/s for {duration:g} s, kill -9 of one after 2 s")
        load = hub.flood(rate, duration)
        wait_for(lambda: len(hub.message_ids()) > rate, 30, "a second of the flood in Redis")
        before = set(hub.bound().values())
        killed_at = hub.kill(one)
        wait_for(lambda: set(hub.holders().values()) == {"two"}, 60, "two holding every shard")
        held = time.time() - killed_at
        wait_for(
            lambda: len(s := hub.bound()) == 4 and len(set(s.values()) - before) == 2,
            60,
            "the two taken shards bound to sessions of two",
        )
        bound = time.time() - killed_at
        status = hub.finished(load)

        ids = hub.message_ids()
        figures: Figures = {
            "scenario": "two_listeners",
            "events_sent": int(status["sent"]),
            "lost_after_socket": None,  # what the killed one held is the restart scenario's
            "lost_at_twitch": int(status["dropped"]),
            "duplicated": len(ids) - len(set(ids)),
            "order_inversions": order_inversions(hub.notifications()),
            "resume_seconds": round(held, 2),
            "convergence_seconds": None,
            "bound_seconds": round(bound, 2),
            "rate": rate,
            "held_seconds": round(held, 2),
            "lost_at_twitch_ms": round(int(status["dropped"]) / rate * 1000),
        }
        figures["targets_met"] = (
            bound <= TARGET_BOUND_SECONDS
            and figures["duplicated"] == 0
            and set(hub.holders().values()) == {"two"}
        )
        return figures
