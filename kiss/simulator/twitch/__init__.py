"""What Twitch decides, with no I/O: the records, the subscription and conduit rules, limits.

The rules take the ``SimulatorState`` and ``now`` as arguments and return data or raise a
``TwitchProblem``; nothing here opens a socket, starts a timer or reads the clock.
``kiss.simulator.adapters`` puts them on the wire.
"""
