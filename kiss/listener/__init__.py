"""The listener: holds the EventSub sockets and writes every event to its channel's stream."""
