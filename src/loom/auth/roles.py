"""Roles, ordered: each one can do everything the ones below it can."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    VIEWER = 10
    OPERATOR = 20
    ADMIN = 30
    OWNER = 40

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        if isinstance(value, Role):
            return value
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(
                f"unknown role {value!r}; one of viewer, operator, admin, owner"
            ) from None


#: What an API token may be limited to. `read` covers safe methods, `write` mutations,
#: `admin` organisation administration (users, teams, audit verification).
TOKEN_SCOPES = ("read", "write", "admin")
