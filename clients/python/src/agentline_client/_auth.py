"""Credentials: an API key, or bearer tokens from a login that renew themselves."""

import time
from collections.abc import Callable, Mapping

from agentline_client._engine import Core, Exclusive, Op, Plan, exchange, parse_as, parse_none
from agentline_client.errors import AuthenticationError
from agentline_client.models import TokenPair

_PARSE_PAIR = parse_as(TokenPair)


class Auth:
    """No credentials (the API answers 401 to everything but login)."""

    renewable = False

    def headers(self) -> dict[str, str]:
        return {}

    def prepare(self, core: Core) -> Op[None]:
        """Make the credentials usable before a request (log in, refresh an expiring token)."""
        yield from ()

    def renew(self, core: Core, refused: Mapping[str, str]) -> Op[None]:
        """After a 401 to a request sent with the headers `refused`."""
        yield from ()

    def end(self, core: Core) -> Op[None]:
        """End a login (an API key is none: it is revoked by an admin)."""
        yield from ()


class ApiKey(Auth):
    def __init__(self, key: str):
        self._key = key

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self._key}


class Tokens(Auth):
    """Bearer tokens: from a login with email and password, or given (tokens kept from an earlier
    session). The access token is refreshed shortly before it expires, and after a 401 (the API does not
    say whether the token expired or was revoked, so one renewal is tried).

    Refresh tokens rotate: each works once, and presenting a used one revokes the whole login. So renewals
    are serialised per client (the second request waiting for a renewal uses its result instead of
    refreshing again), only the newest pair is kept, and a refresh is never sent twice. When the refresh
    token is refused and a password is known, the client logs in again. `on_tokens` is called with every
    new pair, to keep it across processes.
    """

    renewable = True

    def __init__(self, email: str | None = None, password: str | None = None, tenant: str | None = None, *,
                 access_token: str | None = None, refresh_token: str | None = None,
                 on_tokens: Callable[[TokenPair], None] | None = None):
        if password is None and refresh_token is None and access_token is None:
            raise ValueError("give an email and password, or tokens")
        self._login = None if password is None else {
            name: value for name, value in (("email", email), ("password", password), ("tenant", tenant)) if value}
        self._access, self._refresh = access_token, refresh_token
        self._expires_at: float | None = None  # time.monotonic(); unknown for tokens given
        self._on_tokens = on_tokens

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access}"} if self._access else {}

    def prepare(self, core: Core) -> Op[None]:
        if self._access is None or self._expiring():
            yield Exclusive(self._renew(core, stale=self._access))

    def renew(self, core: Core, refused: Mapping[str, str]) -> Op[None]:
        yield Exclusive(self._renew(core, stale=refused.get("Authorization", "").removeprefix("Bearer ") or None))

    def end(self, core: Core) -> Op[None]:
        yield Exclusive(self._end(core))

    def _end(self, core: Core) -> Op[None]:
        """Under the client's lock: forget the tokens, and have the API revoke the login they came from."""
        refresh = self._refresh
        self._access = self._refresh = self._expires_at = None
        if refresh is None:
            return
        try:
            yield from exchange(core, Plan("POST", "/auth/logout", parse_none, json={"refresh_token": refresh},
                                           authenticated=False, replayable=True))
        except AuthenticationError:
            pass  # an expired or revoked refresh token: its login cannot be renewed any more either

    def _expiring(self) -> bool:
        return self._expires_at is not None and time.monotonic() >= self._expires_at

    def _renew(self, core: Core, stale: str | None) -> Op[None]:
        """Under the client's lock: replace the access token `stale`, unless another request already did."""
        if self._access is not None and self._access != stale and not self._expiring():
            return
        started = time.monotonic()
        pair = None
        if self._refresh is not None:
            refresh = self._refresh
            self._refresh = None  # used now, whatever happens: never presented again
            try:
                pair = yield from exchange(core, Plan(
                    "POST", "/auth/refresh", _PARSE_PAIR, json={"refresh_token": refresh}, authenticated=False,
                    replayable=False))
            except AuthenticationError:
                if self._login is None:
                    raise
        if pair is None:
            if self._login is None:
                raise AuthenticationError(401, "Not authenticated", "The access token was refused and there is "
                                          "no refresh token or password to renew it.")
            pair = yield from exchange(core, Plan("POST", "/auth/token", _PARSE_PAIR, json=self._login,
                                                  authenticated=False, replayable=True))
        self._access, self._refresh = pair.access_token, pair.refresh_token
        # Renewed a little early: a request must not leave with a token about to expire on its way.
        self._expires_at = started + pair.expires_in - min(30.0, pair.expires_in / 10)
        if self._on_tokens is not None:
            self._on_tokens(pair)
