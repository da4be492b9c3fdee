from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from kiss.errors import ConfigError, TokenError
from kiss.store.crypto import ENV_VAR, TokenCipher, load_keys


def test_key_file_is_created_once_with_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "kissbot.key"
    first = load_keys(key_file, environ={})
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_keys(key_file, environ={}) == first


def test_environment_key_wins_over_the_file(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    assert load_keys(tmp_path / "absent", environ={ENV_VAR: key.decode()}) == [key]
    assert not (tmp_path / "absent").exists()


def test_round_trip_and_ciphertext_hides_the_secret(tmp_path: Path) -> None:
    cipher = TokenCipher.from_file(tmp_path / "k", environ={})
    sealed = cipher.encrypt("oauth-secret-123")
    assert "oauth-secret-123" not in sealed
    assert cipher.decrypt(sealed) == "oauth-secret-123"


def test_rotation_old_keys_still_decrypt() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = TokenCipher([old]).encrypt("t")
    rotated = TokenCipher([new, old])
    assert rotated.decrypt(sealed) == "t"
    with pytest.raises(TokenError, match="wrong secret key"):
        TokenCipher([new]).decrypt(sealed)


def test_bad_key_is_a_config_error_naming_the_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=ENV_VAR):
        load_keys(tmp_path / "k", environ={ENV_VAR: "not-a-key"})
    bad = tmp_path / "bad.key"
    bad.write_text("nope\n")
    with pytest.raises(ConfigError, match=r"bad\.key"):
        load_keys(bad, environ={})
