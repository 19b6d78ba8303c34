"""Identity: the caller, password login, API tokens, teams and users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from loom.client.base import HttpCore
from loom.client.models import ApiModel

Scope = Literal["read", "write", "admin"]


class Me(ApiModel):
    user_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    org_role: str
    teams: dict[str, str]
    scopes: list[str]
    via: str


class LoginResult(ApiModel):
    user_id: str
    email: str


class Token(ApiModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class TokenCreated(Token):
    token: str


class Team(ApiModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str = ""
    created_at: datetime


class User(ApiModel):
    id: uuid.UUID
    email: str
    name: str
    org_role: str
    is_active: bool
    created_at: datetime


class IdentityApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def me(self) -> Me:
        return self._core.get("/me", Me)

    def login(self, email: str, password: str) -> LoginResult:
        """Password login: the session cookie it sets authenticates later calls of this
        client (when it has no token)."""
        body = {"email": email, "password": password}
        return self._core.post("/auth/login", LoginResult, json=body)

    def logout(self) -> None:
        self._core.request("POST", "/auth/logout", ok=(204,))

    def create_token(
        self,
        name: str,
        scopes: Sequence[Scope] = ("read", "write"),
        *,
        expires_in_days: int | None = None,
        idempotency_key: str | None = None,
    ) -> TokenCreated:
        """Mint a token; its secret (`.token`) is in this answer only."""
        body = {"name": name, "scopes": list(scopes), "expires_in_days": expires_in_days}
        return self._core.post(
            "/tokens", TokenCreated, json=body, ok=(201,), idempotency_key=idempotency_key
        )

    def list_tokens(self) -> list[Token]:
        return self._core.get_list("/tokens", Token)

    def revoke_token(self, token_id: uuid.UUID | str) -> None:
        self._core.request("DELETE", f"/tokens/{token_id}", ok=(204,))

    def teams(self) -> list[Team]:
        return self._core.get_list("/teams", Team)

    def create_team(self, slug: str, name: str, description: str = "") -> Team:
        body = {"slug": slug, "name": name, "description": description}
        return self._core.post("/teams", Team, json=body, ok=(201,))

    def users(self) -> list[User]:
        return self._core.get_list("/users", User)

    def create_user(
        self,
        email: str,
        *,
        name: str = "",
        password: str | None = None,
        org_role: str = "viewer",
    ) -> User:
        body = {"email": email, "name": name, "password": password, "org_role": org_role}
        return self._core.post("/users", User, json=body, ok=(201,))
