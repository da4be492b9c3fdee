"""``kiss auth login/app/list/validate/revoke``: the hub's tokens, stored encrypted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import click
from sqlalchemy.orm import Session, sessionmaker

from kiss.auth.credentials import client_credentials
from kiss.auth.oauth import OAuthClient
from kiss.errors import KissError, OAuthUnavailable
from kiss.settings import Settings, load_settings
from kiss.store import tokens as store
from kiss.store.crypto import TokenCipher
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.subscriptions import rearm_failed


@dataclass
class _Context:
    settings: Settings
    sessions: sessionmaker[Session]
    cipher: TokenCipher
    oauth: OAuthClient


@contextmanager
def _context() -> Iterator[_Context]:
    try:
        settings = load_settings()
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        client_id, secret = client_credentials(settings)
        oauth = OAuthClient(settings.twitch.oauth_url, client_id, secret)
        cipher = TokenCipher.from_file(settings.secret_key_file)
    except KissError as error:
        raise click.ClickException(str(error)) from error
    try:
        yield _Context(settings, session_factory(engine), cipher, oauth)
    except KissError as error:
        raise click.ClickException(str(error)) from error
    finally:
        oauth.close()
        engine.dispose()


def _expiry(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.now(UTC) + timedelta(seconds=seconds)


@click.group("auth")
def auth() -> None:
    """Tokens: add a user token (device code flow), the app token, list, validate, revoke."""


@auth.command("login")
@click.option(
    "--scopes",
    default="",
    help="Space- or comma-separated scopes, e.g. 'channel:read:subscriptions bits:read'.",
)
@click.option("--poll-interval", type=float, default=None, hidden=True)
def login(scopes: str, poll_interval: float | None) -> None:
    """Add a user token with the OAuth device code flow (open the URL, enter the code)."""
    wanted = sorted({s for s in scopes.replace(",", " ").split() if s})
    with _context() as ctx:
        code = ctx.oauth.device_start(wanted)
        click.echo(f"Open {code.verification_uri} and enter the code {code.user_code}")
        click.echo(f"Waiting for approval (expires in {code.expires_in} s)...")
        grant = ctx.oauth.device_wait(code, wanted, interval=poll_interval)
        who = ctx.oauth.validate(grant.access_token)
        with ctx.sessions.begin() as session:
            store.save_token(
                session,
                ctx.cipher,
                kind=store.USER,
                user_id=who.user_id,
                login=who.login,
                scopes=grant.scopes or who.scopes,
                access_token=grant.access_token,
                refresh_token=grant.refresh_token,
                expires_at=_expiry(grant.expires_in),
            )
            rearmed = rearm_failed(session, who.user_id)
        if rearmed:
            click.echo(f"{rearmed} failed subscription(s) of this user will be tried again")
        click.echo(
            f"stored the token of {who.login or who.user_id} (user {who.user_id}), "
            f"scopes: {' '.join(grant.scopes or who.scopes) or '(none)'}"
        )


@auth.command("app")
def app_token() -> None:
    """Fetch and store the app token (client credentials)."""
    with _context() as ctx:
        grant = ctx.oauth.client_credentials()
        with ctx.sessions.begin() as session:
            store.save_token(
                session,
                ctx.cipher,
                kind=store.APP,
                access_token=grant.access_token,
                expires_at=_expiry(grant.expires_in),
            )
        click.echo("stored a new app token")


@auth.command("list")
def list_command() -> None:
    """The stored tokens (never their secrets)."""
    with _context() as ctx, ctx.sessions() as session:
        rows = store.list_tokens(session)
    if not rows:
        click.echo("no tokens stored: `kiss auth login --scopes ...` adds one")
        return
    for info in rows:
        who = "app" if info.kind == store.APP else f"{info.login or '?'} ({info.user_id})"
        expires = info.expires_at.isoformat(timespec="seconds") if info.expires_at else "-"
        reason = f" ({info.reason})" if info.reason else ""
        if info.status == "expired" and not reason:
            reason = " (`kiss auth validate` refreshes it)"
        click.echo(
            f"{who:<28} {info.status}{reason:<10} expires {expires}  "
            f"scopes: {' '.join(info.scopes) or '-'}"
        )


@auth.command("validate")
def validate_command() -> None:
    """Validate every stored token now (the workers also do it hourly)."""
    from kiss.auth.store_provider import StoredTokenProvider
    from kiss.auth.validation import validate_all

    with _context() as ctx:
        provider = StoredTokenProvider(ctx.sessions, ctx.cipher, ctx.oauth)
        report = validate_all(ctx.sessions, ctx.cipher, ctx.oauth, provider)
    click.echo(
        f"valid: {', '.join(report.valid) or '-'}; renewed: {', '.join(report.renewed) or '-'}"
    )
    for name, reason in report.invalid.items():
        click.echo(f"invalid: {name}: {reason}")
    for name, reason in report.unchecked.items():
        click.echo(f"not checked (Twitch did not answer; try again): {name}: {reason}")
    if report.invalid or report.unchecked:
        raise SystemExit(1)


@auth.command("revoke")
@click.argument("user_id", required=False)
@click.option("--app", "app", is_flag=True, help="Revoke the app token instead of a user's.")
@click.option(
    "--force", is_flag=True, help="Forget the token even if Twitch cannot be reached to revoke it."
)
def revoke(user_id: str | None, app: bool, force: bool) -> None:
    """Revoke a user's token (or the app token) at Twitch and forget it."""
    if bool(user_id) == app:
        raise click.UsageError("give a USER_ID or --app (one of them)")
    kind, owner = (store.APP, "") if app else (store.USER, user_id or "")
    with _context() as ctx:
        with ctx.sessions() as session:
            secrets = store.load_secrets(session, ctx.cipher, kind, owner)
        if secrets is None:
            raise click.ClickException(f"no stored token for {'the app' if app else owner}")
        try:
            ctx.oauth.revoke(secrets.access_token)
        except OAuthUnavailable as error:
            if not force:
                raise click.ClickException(
                    f"Twitch could not be reached to revoke it ({error}); the token is kept: "
                    "try again, or add --force to forget it without revoking"
                ) from error
            click.echo(f"warning: Twitch could not be reached ({error}); forgetting it anyway")
        except KissError as error:  # refused: already revoked or expired, nothing to keep
            click.echo(f"warning: Twitch did not revoke it ({error}); forgetting it anyway")
        with ctx.sessions.begin() as session:
            store.delete_token(session, kind, owner)
    click.echo(f"revoked and forgot the token of {'the app' if app else owner}")
