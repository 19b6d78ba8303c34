"""Local stand-ins for the outside systems Loom calls, speaking real HTTP on 127.0.0.1.

`FakeServer` is the base: routes by method and path pattern, records every call and
counts connections. Integration fakes (JIRA, GitHub, ...) are built on it.

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.
"""

from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

__all__ = ["FakeServer", "RecordedCall", "Reply"]
