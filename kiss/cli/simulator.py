"""``kiss simulator``: run the Twitch simulator, or drive a running one through its control API.

kiss simulator --port 8080                 # serve (same as `kiss simulator serve`)
kiss simulator trigger stream.online -b 1001 --url http://127.0.0.1:8080
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from kiss.simulator import Simulator

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = "http://127.0.0.1:8080"


def _serve_options(function: F) -> F:
    options = [
        click.option(
            "--host", help="Address to bind [default: settings simulator.host, 127.0.0.1]."
        ),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            help="Port, 0 for any free one [default: settings simulator.port, 8080].",
        ),
        click.option(
            "--time-unit",
            default=1.0,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Real seconds per Twitch-second (tests use e.g. 0.02).",
        ),
        click.option(
            "--rate-limit-points",
            default=800,
            show_default=True,
            type=click.IntRange(min=1),
            help="Helix bucket size per client id (app) or client id + user.",
        ),
        click.option(
            "--rate-limit-window",
            default=60.0,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Twitch-seconds for an empty bucket to refill.",
        ),
        click.option(
            "--disabled-retention",
            default=60.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="Twitch-seconds a disabled subscription stays listed.",
        ),
        click.option(
            "--subscribe-window",
            default=10.0,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Twitch-seconds to subscribe (or bind a shard) before 4003.",
        ),
        click.option(
            "--reconnect-grace",
            default=30.0,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Twitch-seconds to dial the reconnect URL before 4004.",
        ),
        click.option(
            "--require-known-users/--no-require-known-users",
            default=False,
            show_default=True,
            help="Answer 400 for a condition naming a user the simulator does not know.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _run(options: dict[str, Any]) -> None:
    from kiss.simulator import Simulator, SimulatorConfig

    if options["host"] is None or options["port"] is None:
        from kiss.errors import ConfigError
        from kiss.settings import load_settings

        try:
            section = load_settings().simulator
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        options["host"] = options["host"] or section.host
        options["port"] = section.port if options["port"] is None else options["port"]
    config = SimulatorConfig(**options)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_until_signalled(Simulator(config)))


async def _serve_until_signalled(simulator: Simulator) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly: ``docker stop`` ends it with 0."""
    import signal

    from kiss.cancelling import cancel_and_wait

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    serving = asyncio.create_task(simulator.serve_forever(lambda line: click.echo(line)))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():  # it could not serve (a port in use...): say so
        stopping.cancel()
        serving.result()
        return
    await cancel_and_wait([serving])
    click.echo("simulator stopped")


@click.group(invoke_without_command=True)
@_serve_options
@click.pass_context
def simulator(ctx: click.Context, /, **options: Any) -> None:
    """The Twitch simulator: EventSub WebSocket, Helix, OAuth and a control API on one port.

    Without a subcommand it serves; the other subcommands talk to a running one (--url).
    """
    if ctx.invoked_subcommand is None:
        _run(options)


@simulator.command()
@_serve_options
def serve(**options: Any) -> None:
    """Run the simulator until interrupted; prints `simulator listening on URL` when ready."""
    _run(options)


def _url_option(function: F) -> F:
    return click.option(
        "--url",
        default=DEFAULT_URL,
        show_default=True,
        envvar="KISS_SIMULATOR_URL",
        help="Base URL of a running simulator.",
    )(function)


def _control(url: str) -> Any:
    from kiss.simulator.testing import SimulatorControl

    return SimulatorControl(url)


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _json_option(value: str | None, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint=name) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint=name)
    return parsed


def _call(action: Callable[[], Any]) -> Any:
    from kiss.simulator.testing import SimulatorError

    try:
        return action()
    except SimulatorError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        from kiss.errors import unreachable

        request = getattr(error, "request", None)  # requests' errors know the URL they tried
        url = getattr(request, "url", None)
        text = unreachable(url, error) if isinstance(url, str) else str(error)
        raise click.ClickException(f"the simulator: {text}") from None


@simulator.command()
@click.argument("type_", metavar="TYPE")
@click.option("-b", "--broadcaster", help="Channel (broadcaster user id) of the event.")
@click.option("--version", help="Subscription version (default: the newest).")
@click.option("--condition", help="JSON condition the subscriptions must match.")
@click.option("--event", help="Exact event JSON to send instead of a realistic one.")
@click.option("-c", "--count", default=1, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--resend",
    default=0,
    show_default=True,
    type=click.IntRange(0, 10),
    help="Send each frame again this many times with the same message id.",
)
@click.option("--twin", is_flag=True, help="Send each event twice under different message ids.")
@_url_option
def trigger(
    type_: str,
    broadcaster: str | None,
    version: str | None,
    condition: str | None,
    event: str | None,
    count: int,
    resend: int,
    twin: bool,
    url: str,
) -> None:
    """Send events of TYPE to the subscriptions they match."""
    control = _control(url)
    result = _call(
        lambda: control.trigger(
            type_,
            broadcaster,
            version=version,
            condition=_json_option(condition, "--condition"),
            event=_json_option(event, "--event"),
            count=count,
            resend=resend,
            twin=twin,
        )
    )
    _echo(result)


@simulator.command()
@click.option(
    "--rate", default=1000.0, show_default=True, help="Events per second (0: as fast as possible)."
)
@click.option(
    "--channels", default=1, show_default=True, help="How many subscribed channels to spread over."
)
@click.option("--total", type=int, help="Stop after this many events.")
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option("--type", "type_", help="Event type (default channel.chat.message).")
@click.option(
    "--wait/--no-wait", default=False, help="Wait until it finishes and print its figures."
)
@_url_option
def load(
    rate: float,
    channels: int,
    total: int | None,
    duration: float | None,
    type_: str | None,
    wait: bool,
    url: str,
) -> None:
    """Emit events continuously at a rate across N channels (a load generator)."""
    if total is None and duration is None:
        raise click.UsageError("give --total or --duration")
    control = _control(url)
    load_id = _call(
        lambda: control.load(
            rate=rate, channels=channels, total=total, duration=duration, type_=type_
        )
    )
    status = control.load_status(load_id)
    while wait and status["running"]:
        time.sleep(0.2)
        status = control.load_status(load_id)
    _echo(status)


@simulator.command()
@click.argument("session_id")
@_url_option
def reconnect(session_id: str, url: str) -> None:
    """Send session_reconnect to a session."""
    _echo({"reconnect_url": _call(lambda: _control(url).reconnect(session_id))})


@simulator.command()
@click.argument("session_id")
@click.option("--code", default=4000, show_default=True, type=click.IntRange(4000, 4007))
@_url_option
def close(session_id: str, code: int, url: str) -> None:
    """Close a session with a code 4000-4007."""
    _call(lambda: _control(url).close(session_id, code))
    _echo({"closed": session_id, "code": code})


@simulator.command()
@click.argument("session_id")
@_url_option
def drop(session_id: str, url: str) -> None:
    """Cut a session's connection with no close frame (a network failure)."""
    _call(lambda: _control(url).drop(session_id))
    _echo({"dropped": session_id})


@simulator.command()
@click.argument("session_id")
@click.option("--off", is_flag=True, help="Resume sending instead.")
@_url_option
def silence(session_id: str, off: bool, url: str) -> None:
    """Stop every frame (keepalives included) to a session; its socket stays open."""
    _call(lambda: _control(url).silence(session_id, not off))
    _echo({"session": session_id, "silent": not off})


@simulator.command()
@click.argument("subscription_id")
@click.option(
    "--reason",
    default="authorization_revoked",
    show_default=True,
    help="user_removed, authorization_revoked, version_removed, ...",
)
@_url_option
def revoke(subscription_id: str, reason: str, url: str) -> None:
    """Revoke a subscription (its socket gets a revocation message)."""
    _call(lambda: _control(url).revoke(subscription_id, reason))
    _echo({"revoked": subscription_id, "reason": reason})


@simulator.command("expire-token")
@click.argument("access_token")
@_url_option
def expire_token(access_token: str, url: str) -> None:
    """Make a token expire now (the next Helix call with it gets 401)."""
    _call(lambda: _control(url).expire_token(access_token))
    _echo({"expired": True})


@simulator.command()
@click.option("--path-prefix", default="/helix", show_default=True)
@click.option("--status", type=click.IntRange(400, 599))
@click.option(
    "--count", type=click.IntRange(min=1), help="How many requests (default: until --clear)."
)
@click.option("--latency-ms", default=0.0, show_default=True)
@click.option("--kind", type=click.Choice(["5xx", "ratelimit"]))
@click.option("--clear", is_flag=True, help="Remove every fault.")
@_url_option
def fault(
    path_prefix: str,
    status: int | None,
    count: int | None,
    latency_ms: float,
    kind: str | None,
    clear: bool,
    url: str,
) -> None:
    """Inject Helix faults (5xx, 429, latency), or --clear them."""
    control = _control(url)
    if clear:
        _call(control.clear_faults)
        _echo({"cleared": True})
        return
    _call(
        lambda: control.fault(
            path_prefix, status=status, count=count, latency_ms=latency_ms, kind=kind
        )
    )
    _echo(_call(lambda: control.call("GET", "/faults")))


@simulator.command()
@click.option("--client-id", default="kiss-demo-client", show_default=True)
@click.option("--user-id", help="Omit for an app access token.")
@click.option("--scope", "scopes", multiple=True, help="A scope (repeatable).")
@click.option("--expires-in", type=float, help="Seconds until it expires.")
@_url_option
def token(
    client_id: str, user_id: str | None, scopes: tuple[str, ...], expires_in: float | None, url: str
) -> None:
    """Mint a token (a user token also records the user's authorization)."""
    control = _control(url)
    _echo(
        _call(
            lambda: control.token(
                client_id=client_id, user_id=user_id, scopes=scopes, expires_in=expires_in
            )
        )
    )


@simulator.command()
@_url_option
def sessions(url: str) -> None:
    """List the WebSocket sessions."""
    _echo(_call(_control(url).sessions))


@simulator.command()
@_url_option
def stats(url: str) -> None:
    """Print the simulator's counters."""
    _echo(_call(_control(url).stats))
