"""Where the portal sends people: the login page (remembering where they were going) and
back again, only ever to a path on this site (no open redirects)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

HOME = "/ui"
LOGIN = "/ui/login"


def safe_next(target: str | None, default: str = HOME) -> str:
    """`target` if it is a local path on this site, else `default`.

    Refused: absolute URLs, scheme-relative `//host` (and `/\\host`, which browsers read
    the same way), anything with a backslash or a control character, and the login page
    itself (it would loop)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    if parts.path.rstrip("/") == LOGIN:
        return default
    return target


def login_url(next_path: str | None = None) -> str:
    """The login page; `next_path` (when local and not home) is where to go afterwards."""
    target = safe_next(next_path, default="")
    if not target or target == HOME:
        return LOGIN
    return f"{LOGIN}?{urlencode({'next': target})}"
