"""GitHub App authentication: a short-lived JWT signed with the app's private key
(RS256) is exchanged for an installation token, which is cached until shortly before it
expires (an hour after it was issued), so most calls cost no exchange."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jwt

from loom.actions.base import ActionFailed

#: GitHub refuses JWTs valid for more than ten minutes; iat is set back for clock drift.
JWT_LIFETIME_SECONDS = 540
JWT_BACKDATE_SECONDS = 60
#: A cached installation token is renewed this long before it expires.
RENEW_MARGIN_SECONDS = 300


def app_jwt(app_id: str, private_key_pem: str, now: float) -> str:
    """The JWT that authenticates as the app itself (`iss` is its id)."""
    issued = int(now)
    claims = {
        "iat": issued - JWT_BACKDATE_SECONDS,
        "exp": issued + JWT_LIFETIME_SECONDS,
        "iss": app_id,
    }
    try:
        return jwt.encode(claims, private_key_pem, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # The message names the problem, never the key.
        raise ActionFailed(
            f"the GitHub App private key cannot sign a JWT ({type(exc).__name__}): "
            "app_private_key must be the app's PEM private key"
        ) from None


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float


class InstallationTokens:
    """Installation tokens by (API URL, app id, installation id), per process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._tokens: dict[tuple[str, str, str], _Token] = {}

    def get(self, key: tuple[str, str, str]) -> str | None:
        token = self._tokens.get(key)
        if token is None or token.expires_at - self.clock() <= RENEW_MARGIN_SECONDS:
            return None
        return token.value

    def put(self, key: tuple[str, str, str], value: str, expires_at: str) -> None:
        """Keep `value` until `expires_at` (GitHub's ISO time) nears."""
        try:
            expires = datetime.fromisoformat(expires_at).timestamp()
        except (TypeError, ValueError):
            expires = self.clock() + RENEW_MARGIN_SECONDS * 2  # unknown: keep it briefly
        self._tokens[key] = _Token(value, expires)

    def clear(self) -> None:
        self._tokens.clear()


#: The process's cache (a test may pass its own to GithubClient).
installation_tokens = InstallationTokens()
