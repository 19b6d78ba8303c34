"""Local stand-ins for the outside systems Loom calls, speaking real HTTP on 127.0.0.1.

`FakeServer` is the base: routes by method and path pattern, records every call and
counts connections. Integration fakes (JIRA, GitHub, ...) are built on it.
"""

from tests.fakes.server import FakeServer, RecordedCall, Reply

__all__ = ["FakeServer", "RecordedCall", "Reply"]
