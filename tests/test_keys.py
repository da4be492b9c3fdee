from __future__ import annotations

import inspect

from kiss.keys import Keys


def _key_methods(keys: Keys) -> dict[str, str]:
    """Every key a Keys object names, called with placeholder arguments."""
    names = {}
    for name, method in inspect.getmembers(keys, inspect.ismethod):
        if name.startswith("_"):
            continue
        arguments = [f"<{parameter}>" for parameter in inspect.signature(method).parameters]
        names[name] = method(*arguments)
    return names


def test_every_key_carries_the_prefix() -> None:
    for name, key in _key_methods(Keys(prefix="hubA")).items():
        assert key.startswith("hubA:") or name == "bot_group", (name, key)


def test_two_prefixes_never_share_a_key() -> None:
    first = set(_key_methods(Keys(prefix="hubA")).values())
    second = set(_key_methods(Keys(prefix="hubB")).values())
    assert not (first & second) - {Keys().bot_group("<bot>")}


def test_distinct_purposes_have_distinct_keys() -> None:
    values = [key for name, key in _key_methods(Keys()).items() if not name.endswith("_pattern")]
    assert len(values) == len(set(values))


def test_channel_streams_match_their_pattern() -> None:
    keys = Keys(prefix="kiss")
    assert keys.channel_stream("12826") == "kiss:events:12826"
    assert keys.channel_stream_pattern() == "kiss:events:*"
