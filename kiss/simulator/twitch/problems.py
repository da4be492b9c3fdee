"""Twitch-shaped API errors: ``{"error": <reason>, "status": <code>, "message": <text>}``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class TwitchProblem(Exception):
    """An error answer with Twitch's status and message, raised by the simulator's core."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return {
            "error": HTTPStatus(self.status).phrase,
            "status": self.status,
            "message": self.message,
        }


def bad_request(message: str) -> TwitchProblem:
    return TwitchProblem(400, message)


def unauthorized(message: str = "Invalid OAuth token") -> TwitchProblem:
    return TwitchProblem(401, message)


def forbidden(message: str) -> TwitchProblem:
    return TwitchProblem(403, message)


def not_found(message: str) -> TwitchProblem:
    return TwitchProblem(404, message)


def conflict(message: str) -> TwitchProblem:
    return TwitchProblem(409, message)


def too_many(message: str) -> TwitchProblem:
    return TwitchProblem(429, message)
