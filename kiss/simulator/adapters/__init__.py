"""The simulator on the wire: aiohttp routes, the EventSub socket, webhook delivery, load.

These modules own the sockets, the timers and the clock, parse requests and write answers;
what an answer says comes from the rules in ``kiss.simulator.twitch``.
"""
