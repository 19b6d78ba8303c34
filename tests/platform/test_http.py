"""http: the one client factory — allow-list before any connection, redirects checked
hop by hop, timeouts always set, correlation id and User-Agent on every call, a circuit
breaker per integration and host, and no cookies or credentials carried across origins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from loom.api.correlation import set_correlation_id
from loom.demo.fakes import FakeServer, RecordedCall, Reply
from loom.platform.http import (
    SENSITIVE_HEADERS_EXTENSION,
    CircuitBreaker,
    CircuitOpen,
    HostNotAllowed,
    HostPolicy,
    HttpClients,
    http_clients,
    is_credential_header,
)
from loom.settings import HttpSettings, Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def clients(clock: FakeClock) -> AsyncIterator[HttpClients]:
    http = HttpClients(
        HttpSettings(
            timeout_seconds=2,
            connect_timeout_seconds=1,
            breaker_failure_threshold=3,
            breaker_cooldown_seconds=60,
            user_agent="loom-test/1",
        ),
        ["127.0.0.1"],
        clock=clock,
    )
    yield http
    await http.aclose()


# --- host policy -------------------------------------------------------------------


def refused(policy: HostPolicy, url: str) -> str:
    with pytest.raises(HostNotAllowed) as caught:
        policy.check(httpx.URL(url))
    return str(caught.value)


def test_exact_names_and_wildcards_are_allowed() -> None:
    policy = HostPolicy(("api.example.com", "*.corp.example", "Jira.Example.org"))
    for url in (
        "https://api.example.com/v1",
        "https://API.example.com./v1",
        "http://a.corp.example:8080/",
        "https://a.b.corp.example/",
        "https://jira.example.org/",
    ):
        policy.check(httpx.URL(url))
    assert "not in allowed_hosts" in refused(policy, "https://example.com/")
    assert "not in allowed_hosts" in refused(policy, "https://corp.example/")  # not the apex
    assert "not in allowed_hosts" in refused(policy, "https://evilcorp.example/")
    assert "not in allowed_hosts" in refused(policy, "https://api.example.com.evil.io/")


def test_an_empty_allow_list_refuses_everything() -> None:
    assert "not in allowed_hosts" in refused(HostPolicy(), "https://api.example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.5/",
        "http://192.168.1.1:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_internal_ip_literals_are_refused_unless_listed(url: str) -> None:
    policy = HostPolicy(("*.example.com", "api.example.com"))
    assert "private/loopback/link-local IP address" in refused(policy, url)


def test_a_listed_ip_literal_is_allowed_and_only_that_one() -> None:
    policy = HostPolicy(("127.0.0.1", "::1", "93.184.216.34"))
    policy.check(httpx.URL("http://127.0.0.1:9000/"))
    policy.check(httpx.URL("http://[::1]/"))
    policy.check(httpx.URL("https://93.184.216.34/"))
    assert "private" in refused(policy, "http://127.0.0.2/")
    assert "a public IP address not listed" in refused(policy, "http://8.8.8.8/")
    assert "not in allowed_hosts" in refused(policy, "http://localhost/")


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f.1", "0x7f000001", "10.0.1"])
def test_numeric_hosts_that_resolvers_read_as_addresses_are_refused(host: str) -> None:
    policy = HostPolicy(("127.0.0.1", "10.0.0.1"))
    assert "numeric host" in refused(policy, f"http://{host}/")


def test_only_http_and_https() -> None:
    policy = HostPolicy(("files.example.com",))
    assert "only http and https" in refused(policy, "ftp://files.example.com/x")


@pytest.mark.parametrize("entry", ["*", "https://api.example.com", "api.example.com:443", "*.", ""])
def test_a_malformed_entry_is_refused_at_start(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        HostPolicy(("ok.example.com", entry))
    with pytest.raises(ValueError, match="is not a host name"):
        HttpClients(HttpSettings(), [entry])


def test_credential_headers() -> None:
    for name in ("Authorization", "proxy-authorization", "Cookie", "X-Api-Key", "X-Auth-Token"):
        assert is_credential_header(name)
    for name in ("X-Webhook-Secret", "X-Password"):
        assert is_credential_header(name)
    for name in ("Content-Type", "Idempotency-Key", "X-Correlation-ID", "Accept"):
        assert not is_credential_header(name)


# --- every client from the factory ------------------------------------------------


async def test_refused_hosts_make_no_connection(server: FakeServer) -> None:
    only_names = HttpClients(HttpSettings(), ["*.example.com"])
    loopback = HttpClients(HttpSettings(), ["127.0.0.1"])
    try:
        with pytest.raises(HostNotAllowed, match="private/loopback"):
            await only_names.client("rest-api").get(server.url + "/x")
        with pytest.raises(HostNotAllowed, match="localhost: not in allowed_hosts"):
            await loopback.client("rest-api").get(f"http://localhost:{server.port}/x")
    finally:
        await only_names.aclose()
        await loopback.aclose()
    assert server.connections == 0
    assert server.calls == []


async def test_a_redirect_to_a_refused_host_is_not_followed(
    server: FakeServer, clients: HttpClients
) -> None:
    server.route("GET", "/meta", Reply(302, headers={"Location": "http://169.254.169.254/x"}))
    server.route(
        "GET", "/local", Reply(307, headers={"Location": f"http://localhost:{server.port}/in"})
    )
    client = clients.client("rest-api")
    with pytest.raises(HostNotAllowed, match=r"169\.254\.169\.254"):
        await client.get(server.url + "/meta")
    with pytest.raises(HostNotAllowed, match="localhost"):
        await client.get(server.url + "/local")
    assert [call.path for call in server.calls] == ["/meta", "/local"]


async def test_allowed_redirects_are_followed(server: FakeServer, clients: HttpClients) -> None:
    server.route("GET", "/old", Reply(301, headers={"Location": "/new"}))
    server.route("GET", "/new", Reply(json={"ok": True}))
    response = await clients.client("rest-api").get(server.url + "/old")
    assert response.json() == {"ok": True}
    assert str(response.url) == server.url + "/new"


async def test_credentials_do_not_follow_a_redirect_to_another_origin(
    server: FakeServer, clients: HttpClients
) -> None:
    with FakeServer() as other:
        other.route("POST", "/landing", Reply(json={}))
        server.route("POST", "/same", Reply(307, headers={"Location": "/here"}))
        server.route("POST", "/here", Reply(json={}))
        server.route("POST", "/away", Reply(307, headers={"Location": other.url + "/landing"}))
        headers = {
            "Authorization": "Bearer t0ken",
            "X-Api-Key": "k3y",
            "X-Custom-Credential-Ish": "c",
            "X-Plain": "p",
        }
        extensions = {SENSITIVE_HEADERS_EXTENSION: ["x-custom-credential-ish"]}
        client = clients.client("rest-api")
        await client.post(server.url + "/same", headers=headers, extensions=dict(extensions))
        await client.post(server.url + "/away", headers=headers, extensions=dict(extensions))
    here = server.calls[1]
    assert (here.path, here.headers["authorization"], here.headers["x-api-key"]) == (
        "/here",
        "Bearer t0ken",
        "k3y",
    )
    landed = other.calls[0].headers
    assert landed["x-plain"] == "p"
    assert not {"authorization", "x-api-key", "x-custom-credential-ish"} & set(landed)


async def test_correlation_id_and_user_agent_go_out(
    server: FakeServer, clients: HttpClients
) -> None:
    server.route("GET", "/ping", Reply(json={}))
    client = clients.client("rest-api")

    async def call_as(cid: str) -> None:
        set_correlation_id(cid)
        await client.get(server.url + "/ping")

    await asyncio.gather(
        asyncio.create_task(call_as("cid-a")), asyncio.create_task(call_as("cid-b"))
    )
    await client.get(server.url + "/ping", headers={"X-Correlation-ID": "chosen"})
    received = sorted(call.headers["x-correlation-id"] for call in server.calls)
    assert received == ["chosen", "cid-a", "cid-b"]
    assert {call.headers["user-agent"] for call in server.calls} == {"loom-test/1"}


async def test_timeouts_are_always_set_and_a_caller_may_choose_its_own(server: FakeServer) -> None:
    http = HttpClients(HttpSettings(timeout_seconds=0.2), ["127.0.0.1"])
    client = http.client("rest-api")
    assert (client.timeout.connect, client.timeout.read) == (5.0, 0.2)
    server.route("GET", "/slow", Reply(json={}, delay=2))
    try:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url + "/slow", timeout=None)
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url + "/slow", timeout=httpx.Timeout(None, read=0.1))
        server.route("GET", "/patient", Reply(json={}, delay=0.4))
        assert (await client.get(server.url + "/patient", timeout=3)).status_code == 200
    finally:
        await http.aclose()


async def test_cookies_are_not_kept_between_calls(server: FakeServer, clients: HttpClients) -> None:
    server.route("GET", "/login", Reply(json={}, headers={"Set-Cookie": "session=abc; Path=/"}))
    server.route("GET", "/next", Reply(json={}))
    client = clients.client("rest-api")
    await client.get(server.url + "/login")
    await client.get(server.url + "/next")
    assert "cookie" not in server.calls[1].headers


async def test_one_client_per_integration(clients: HttpClients) -> None:
    assert clients.client("rest-api") is clients.client("rest-api")
    assert clients.client("jira:main") is not clients.client("rest-api")


async def test_extra_hosts_belong_to_their_integration() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"host": request.url.host})

    http = HttpClients(HttpSettings(), [], transport=httpx.MockTransport(answer))
    try:
        jira = http.client("jira:main", extra_hosts=["jira.example.com"])
        response = await jira.get("https://jira.example.com/rest/api/2/myself")
        assert response.json() == {"host": "jira.example.com"}
        with pytest.raises(HostNotAllowed):
            await http.client("rest-api").get("https://jira.example.com/")
        assert http.client("jira:main") is jira
        with pytest.raises(ValueError, match="other extra hosts"):
            http.client("jira:main", extra_hosts=["evil.example.com"])
    finally:
        await http.aclose()


async def test_the_transport_seam_is_guarded_too() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    http = HttpClients(HttpSettings(), ["api.example.com"], transport=httpx.MockTransport(answer))
    try:
        set_correlation_id("cid-mock")
        await http.client("rest-api").delete("https://api.example.com/things/1")
        with pytest.raises(HostNotAllowed):
            await http.client("rest-api").get("http://10.1.2.3/")
    finally:
        await http.aclose()
    assert len(seen) == 1
    assert seen[0].headers["X-Correlation-ID"] == "cid-mock"
    assert seen[0].extensions["timeout"] == {
        "connect": 5.0,
        "read": 30.0,
        "write": 30.0,
        "pool": 30.0,
    }


def test_the_process_keeps_one_set_of_clients() -> None:
    runtime: Any = SimpleNamespace(
        settings=Settings(env="test", allowed_hosts=["api.example.com"]), extras={}
    )
    first = http_clients(runtime)
    assert http_clients(runtime) is first
    assert first.allowed_hosts == ("api.example.com",)
    injected = HttpClients(HttpSettings(), [])
    runtime.extras["http_clients"] = injected
    assert http_clients(runtime) is injected


# --- circuit breaker ---------------------------------------------------------------


def test_breaker_opens_after_threshold_and_half_opens_after_cooldown(clock: FakeClock) -> None:
    breaker = CircuitBreaker("rest-api api", threshold=3, cooldown=60, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    breaker.before_call()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        assert breaker.state == "closed"
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "open"
    clock.advance(59)
    with pytest.raises(CircuitOpen, match=r"circuit open for rest-api api: .* next trial in 1 s"):
        breaker.before_call()
    clock.advance(1)
    assert breaker.state == "half-open"
    breaker.before_call()  # the trial
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # only one trial at a time
    breaker.record_failure()
    assert breaker.state == "open"  # a failed trial opens it again, for a full cool-down
    clock.advance(60)
    breaker.before_call()
    breaker.record_success()
    assert (breaker.state, breaker.failures) == ("closed", 0)


def test_a_cancelled_trial_frees_the_slot(clock: FakeClock) -> None:
    breaker = CircuitBreaker("k", threshold=1, cooldown=10, clock=clock)
    breaker.before_call()
    breaker.record_failure()
    clock.advance(10)
    breaker.before_call()
    breaker.release()
    breaker.before_call()  # another trial may go
    breaker.record_success()
    assert breaker.state == "closed"


async def test_server_errors_open_the_circuit_and_a_trial_closes_it(
    server: FakeServer, clients: HttpClients, clock: FakeClock
) -> None:
    server.route("GET", "/flaky", Reply(503, json={"error": "down"}))
    client = clients.client("rest-api")
    for _ in range(3):
        assert (await client.get(server.url + "/flaky")).status_code == 503
    with pytest.raises(CircuitOpen, match=f"rest-api 127.0.0.1:{server.port}"):
        await client.get(server.url + "/flaky")
    assert len(server.calls) == 3
    assert clients.breaker_states() == {f"rest-api 127.0.0.1:{server.port}": "open"}

    clock.advance(60)
    assert clients.breaker_states()[f"rest-api 127.0.0.1:{server.port}"] == "half-open"
    server.route("GET", "/flaky", Reply(json={"ok": True}))
    assert (await client.get(server.url + "/flaky")).status_code == 200
    assert (await client.get(server.url + "/flaky")).status_code == 200
    assert len(server.calls) == 5
    assert clients.breaker_states() == {f"rest-api 127.0.0.1:{server.port}": "closed"}


async def test_only_one_trial_while_half_open(
    server: FakeServer, clients: HttpClients, clock: FakeClock
) -> None:
    breaker = clients.breaker("rest-api", f"127.0.0.1:{server.port}")
    for _ in range(3):
        breaker.record_failure()
    clock.advance(60)
    server.route("GET", "/slow", Reply(json={}, delay=0.3))
    client = clients.client("rest-api")
    trial = asyncio.create_task(client.get(server.url + "/slow"))
    await asyncio.sleep(0.1)
    with pytest.raises(CircuitOpen):
        await client.get(server.url + "/slow")
    assert (await trial).status_code == 200
    assert breaker.state == "closed"
    assert len(server.calls) == 1


async def test_timeouts_and_refused_connections_count_as_failures(clock: FakeClock) -> None:
    http = HttpClients(
        HttpSettings(timeout_seconds=0.1, breaker_failure_threshold=2), ["127.0.0.1"], clock=clock
    )
    client = http.client("rest-api")
    try:
        with FakeServer() as slow:
            slow.route("GET", "/", Reply(delay=1))
            for _ in range(2):
                with pytest.raises(httpx.ReadTimeout):
                    await client.get(slow.url + "/")
            with pytest.raises(CircuitOpen):
                await client.get(slow.url + "/")
        with FakeServer() as gone:
            url = gone.url
        for _ in range(2):
            with pytest.raises(httpx.ConnectError):
                await client.get(url)
        with pytest.raises(CircuitOpen):
            await client.get(url)
    finally:
        await http.aclose()


async def test_client_errors_do_not_open_the_circuit(
    server: FakeServer, clients: HttpClients
) -> None:
    server.route("GET", "/missing", Reply(404))
    for _ in range(5):
        await clients.client("rest-api").get(server.url + "/missing")
    assert len(server.calls) == 5


async def test_breakers_are_per_integration_and_host(
    server: FakeServer, clients: HttpClients
) -> None:
    def fail_on_boom(call: RecordedCall) -> Reply:
        return Reply(500 if call.path == "/boom" else 200)

    server.route("GET", "/.*", fail_on_boom)
    with FakeServer() as other:
        other.route("GET", "/ok", Reply(json={}))
        rest = clients.client("rest-api")
        for _ in range(3):
            await rest.get(server.url + "/boom")
        with pytest.raises(CircuitOpen):
            await rest.get(server.url + "/ok")
        assert (await rest.get(other.url + "/ok")).status_code == 200
        assert (await clients.client("jira:main").get(server.url + "/ok")).status_code == 200
    assert clients.breaker_states() == {
        f"jira:main 127.0.0.1:{server.port}": "closed",
        f"rest-api 127.0.0.1:{other.port}": "closed",
        f"rest-api 127.0.0.1:{server.port}": "open",
    }
