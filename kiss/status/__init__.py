"""The hub's status as operators see it: ``kiss status``, ``subscriptions`` and ``metrics``.

model.py     plain data: HubStatus and its parts (what ``--json`` prints)
gather.py    the read model: fills HubStatus from Redis and the store
render.py    pure text rendering in the seed's hub_ctl layout, and tables
"""
