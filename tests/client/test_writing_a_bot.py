"""docs/writing-a-bot.md: its example runs against the client as it is (up to the loop)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-bot.md"


def test_the_example_builds_a_client_with_its_handlers() -> None:
    example = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[0]
    assert example.rstrip().endswith(
        "run(main())  # like asyncio.run, and Ctrl-C or SIGTERM stop the bot cleanly"
    )
    namespace: dict[str, object] = {}
    exec(compile(example.rsplit("run(main())", 1)[0], str(DOC), "exec"), namespace)  # noqa: S102
    client = namespace["client"]
    assert client.bot == "greeter"  # type: ignore[attr-defined]
    assert set(client._handlers) == {"stream.online", "gap", "revocation"}  # type: ignore[attr-defined]
