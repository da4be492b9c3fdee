"""Helix over HTTP: the client, the shared Redis rate limiter, subscription endpoints."""
