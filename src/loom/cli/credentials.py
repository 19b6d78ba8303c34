"""Where `loom login` keeps the server URL and API token, and how commands find them.

The file is `credentials.json` in the user's config directory (platformdirs; the
``LOOM_CLI_CONFIG_DIR`` variable moves it), readable by its owner only. ``LOOM_URL`` and
``LOOM_TOKEN`` override what is stored.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

CONFIG_DIR_ENV = "LOOM_CLI_CONFIG_DIR"
URL_ENV = "LOOM_URL"
TOKEN_ENV = "LOOM_TOKEN"  # noqa: S105 - the name of a variable, not a secret
DEFAULT_URL = "http://127.0.0.1:8080"
FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str | None = None
    email: str | None = None
    #: The token's id when `loom login` minted it (so `loom logout` can revoke it).
    token_id: str | None = None


class CredentialsError(Exception):
    """The credentials file exists but cannot be read."""


def config_dir() -> Path:
    explicit = os.environ.get(CONFIG_DIR_ENV)
    return Path(explicit) if explicit else Path(platformdirs.user_config_dir("loom"))


def credentials_path() -> Path:
    return config_dir() / FILE_NAME


def load_stored() -> Credentials | None:
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise CredentialsError(f"{path} is not a Loom credentials file; run `loom login`")
    fields = ("token", "email", "token_id")
    return Credentials(url=data["url"], **{k: data.get(k) for k in fields})


def store(credentials: Credentials) -> Path:
    """Write the file atomically with mode 0600 (its directory 0700)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(credentials), handle, indent=2)
        os.chmod(temp, 0o600)  # in case the file pre-existed with wider permissions
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def remove() -> bool:
    """Delete the stored credentials; False when there were none."""
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True


def check_url(url: str) -> str:
    """The URL without a trailing slash; refuses anything but http(s)://host..."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise CredentialsError(f"not a Loom URL: {url!r} (expected http://host:port)")
    return url.rstrip("/")


def effective(url: str | None = None) -> Credentials:
    """What a command uses: `url` (an option) or LOOM_URL or the stored URL or the
    default, and LOOM_TOKEN or the stored token (when it belongs to that URL)."""
    stored = load_stored()
    env_url = os.environ.get(URL_ENV) or None
    base = check_url(url or env_url or (stored.url if stored else None) or DEFAULT_URL)
    token = os.environ.get(TOKEN_ENV) or None
    if token is None and stored is not None and stored.url.rstrip("/") == base:
        token = stored.token
    return Credentials(url=base, token=token, email=stored.email if stored else None)
