"""The host allow-list: which hosts outgoing calls may reach (`settings.allowed_hosts`:
exact names, `*.suffix` wildcards, and IP literals only when listed exactly)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

import httpx

from loom.platform.http.errors import HostNotAllowed

_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts outgoing calls may reach. Entries are host names (`api.example.com`),
    wildcards (`*.example.com`: any name under it, not the name itself) or IP literals
    (`127.0.0.1`, `::1`: that address only). An empty list refuses every host."""

    entries: tuple[str, ...] = ()
    _names: frozenset[str] = field(init=False, repr=False)
    _suffixes: tuple[str, ...] = field(init=False, repr=False)
    _addresses: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = field(
        init=False, repr=False
    )

    def __post_init__(self) -> None:
        names, suffixes, addresses = set(), [], set()
        for raw in self.entries:
            entry = raw.strip().lower().rstrip(".")
            address = _ip_literal(entry)
            if address is not None:
                addresses.add(address)
            elif entry.startswith("*.") and _is_host_name(entry[2:]):
                suffixes.append(entry[1:])
            elif _is_host_name(entry) and not _is_numeric_host(entry):
                names.add(entry)
            else:
                raise ValueError(
                    f"allowed_hosts: {raw!r} is not a host name, *.suffix wildcard or IP address"
                )
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_suffixes", tuple(suffixes))
        object.__setattr__(self, "_addresses", frozenset(addresses))

    def check(self, url: httpx.URL) -> None:
        """Raise HostNotAllowed unless `url` may be called."""
        if url.scheme not in ("http", "https"):
            raise HostNotAllowed(f"refused {url.scheme}:// URL: only http and https are allowed")
        host = url.raw_host.decode("ascii").lower().rstrip(".")
        address = _ip_literal(host)
        if address is not None:
            if address in self._addresses:
                return
            kind = "a public" if address.is_global else "a private/loopback/link-local"
            raise HostNotAllowed(f"refused {host}: {kind} IP address not listed in allowed_hosts")
        if _is_numeric_host(host):
            raise HostNotAllowed(f"refused {host}: a numeric host that is not a plain IP address")
        if host in self._names or any(host.endswith(suffix) for suffix in self._suffixes):
            return
        raise HostNotAllowed(f"refused {host}: not in allowed_hosts (LOOM_ALLOWED_HOSTS)")


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_numeric_host(host: str) -> bool:
    """`2130706433`, `127.1`, `0x7f.1`: resolvers read these as addresses; refuse them."""
    return bool(_NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]))


def _is_host_name(name: str) -> bool:
    return bool(name) and all(_HOST_LABEL.match(label) for label in name.split("."))
