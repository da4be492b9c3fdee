"""Tokens: OAuth flows (device code, client credentials, validate, refresh) and token providers."""
