"""The contracts between the hub's processes, each in one module that both sides import.

Only the standard library and orjson: the bot client imports these without the listener's,
the workers' or the database's dependencies.

- ``stream_entry``: a channel stream's entry (listener → bots): its fields, kinds, encoder
  and decoder.
"""
