"""Tokens at rest: Fernet with a key from ``KISSBOT_SECRET_KEY`` or ``settings.secret_key_file``.

The file is created on first use with 0600 permissions. Several comma-separated keys in the
variable (or lines in the file) allow rotation: the first encrypts, all decrypt.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kiss.errors import ConfigError, TokenError

ENV_VAR = "KISSBOT_SECRET_KEY"


def _parse(raw: str, where: str) -> list[bytes]:
    keys = [part.strip().encode() for part in raw.replace("\n", ",").split(",") if part.strip()]
    if not keys:
        raise ConfigError(f"{where}: no key in it")
    for key in keys:
        try:
            Fernet(key)
        except ValueError as error:
            raise ConfigError(f"{where}: not a Fernet key (32 url-safe base64 bytes)") from error
    return keys


def load_keys(key_file: Path, environ: dict[str, str] | None = None) -> list[bytes]:
    """The keys from the environment, else from the file (created with 0600 when missing)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        return _parse(env[ENV_VAR], ENV_VAR)
    try:
        return _parse(key_file.read_text(), str(key_file))
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _parse(key_file.read_text(), str(key_file))
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key + b"\n")
    return [key]


class TokenCipher:
    def __init__(self, keys: list[bytes]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_file(cls, key_file: Path, environ: dict[str, str] | None = None) -> TokenCipher:
        return cls(load_keys(key_file, environ))

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise TokenError(
                "a stored token cannot be decrypted: wrong secret key "
                f"(check {ENV_VAR} or the key file)"
            ) from error
