"""The EventSub protocol, with no I/O: messages, topics, and the session state machine."""
