"""What Twitch decides, with no I/O: the records, the subscription and conduit rules, limits.

Every function here takes the ``SimulatorState`` and ``now`` as arguments and returns data
or raises a ``TwitchProblem``; nothing opens a socket, starts a timer or reads the clock.
``kiss.simulator.adapters`` puts these rules on the wire.
"""
