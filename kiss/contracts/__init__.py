"""The contracts between the hub's processes, each in one module that both sides import.

Only the standard library and orjson: the bot client imports these without the listener's,
the workers' or the database's dependencies.

- ``stream_entry``: a channel stream's entry (listener → bots): its fields, kinds, encoder
  and decoder.
- ``bot_requests``: a bot's requests, the control plane's replies, the subscription
  outcomes (bots ⇄ workers/control.py and the reconciler).
- ``tasks``: the Celery tasks' names and arguments (listener, control, CLI → workers/tasks.py).
- ``timestamps``: the one text form of the epoch seconds the hub writes (``epoch_text``).
"""
