"""The local run: start the hub's processes in order, restart a crashed one with backoff,
interleave their logs with a name prefix, and stop them all on Ctrl-C or SIGTERM.

    backoff.py   pure restart policy (delay from crash history and time)
    spec.py      what to run: ProcessSpec and readiness checks
    logs.py      pure formatting of a child's output line
    runner.py    the asyncio adapter that owns the child processes
    plan.py      which processes the hub needs, from the settings
    demo.py      demo mode: users, tokens and load on the bundled simulator
"""
