"""GithubClient against the fake GitHub: instance choice, standard headers on
github.com's and Enterprise Server's layouts, token and GitHub App auth (JWT exchanged
for an installation token, cached until near expiry), reads retried on 5xx and writes
not, timeouts, the circuit breaker opening and closing, secrets masked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel

from loom.actions.base import ActionContext, ActionFailed
from loom.demo.fakes.github import FakeGithub
from loom.integrations.github import API_VERSION, GithubClient
from loom.integrations.github_app import InstallationTokens
from loom.platform.http import HttpClients
from loom.settings import Settings
from tests.actions.github_support import TOKEN, FakeClock, github_settings, log_text

APP_ID = "424242"
INSTALLATION = "9001"


class Empty(BaseModel):
    pass


@pytest.fixture(autouse=True)
def no_retry_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loom.integrations.github.RETRY_DELAYS", (0.0, 0.0))


@pytest.fixture(params=["", "/api/v3"], ids=["github.com", "enterprise"])
def github(request: pytest.FixtureRequest) -> Iterator[FakeGithub]:
    with FakeGithub(prefix=request.param, tokens={TOKEN}) as fake:
        fake.add_repo("acme/infra", files={"README.md": "hello\n"})
        yield fake


@pytest.fixture(scope="module")
def app_key() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def contexts(clock: FakeClock) -> AsyncIterator[Any]:
    clients: list[HttpClients] = []

    def make(settings: Settings) -> ActionContext[Empty]:
        http = HttpClients.from_settings(settings, clock=clock)
        clients.append(http)
        return ActionContext(uuid.uuid4(), uuid.uuid4(), 1, Empty(), http, settings, env={})

    yield make
    for http in clients:
        await http.aclose()


def app_settings(github: FakeGithub, private_key: str) -> Settings:
    return github_settings(
        github, app_id=APP_ID, app_private_key=private_key, installation_id=INSTALLATION
    )


# --- instances and headers ---------------------------------------------------------


async def test_calls_carry_the_standard_headers_and_the_token(
    github: FakeGithub, contexts: Any
) -> None:
    client = GithubClient(contexts(github_settings(github)))
    assert await client.default_branch("acme/infra") == "main"
    [call] = github.api_calls("GET", "/repos/acme/infra")
    assert call.path == github.prefix + "/repos/acme/infra"
    assert call.headers["accept"] == "application/vnd.github+json"
    assert call.headers["x-github-api-version"] == API_VERSION
    assert call.headers["authorization"] == f"Bearer {TOKEN}"


async def test_an_unknown_instance_is_refused_naming_the_configured_ones(
    github: FakeGithub, contexts: Any
) -> None:
    with pytest.raises(
        ActionFailed, match=r"no GitHub instance named 'other' \(configured: main\)"
    ):
        GithubClient(contexts(github_settings(github)), "other")


async def test_a_bad_token_fails_naming_the_status_and_the_token_is_masked(
    github: FakeGithub, contexts: Any
) -> None:
    ctx = contexts(github_settings(github, token="ghp_wrong_but_secret"))
    with pytest.raises(ActionFailed) as caught:
        await GithubClient(ctx).default_branch("acme/infra")
    assert "answered 401" in caught.value.message
    assert "Bad credentials" in caught.value.message
    assert not caught.value.retryable
    assert "ghp_wrong_but_secret" not in caught.value.message + log_text(ctx)


async def test_a_repository_that_is_not_owner_slash_name_is_refused_before_calling(
    github: FakeGithub, contexts: Any
) -> None:
    with pytest.raises(ActionFailed, match="not of the form owner/name"):
        await GithubClient(contexts(github_settings(github))).default_branch("acme/infra/x")
    assert github.calls == []


# --- GitHub App ----------------------------------------------------------------------


async def test_an_app_exchanges_a_signed_jwt_once_and_reuses_the_installation_token(
    github: FakeGithub, contexts: Any, app_key: tuple[str, bytes]
) -> None:
    private, public = app_key
    github.add_app(APP_ID, public, INSTALLATION)
    ctx = contexts(app_settings(github, private))
    tokens = InstallationTokens()
    client = GithubClient(ctx, tokens=tokens)
    await client.default_branch("acme/infra")
    await GithubClient(ctx, tokens=tokens).default_branch("acme/infra")

    [exchange] = github.api_calls("POST", f"/app/installations/{INSTALLATION}/access_tokens")
    signed = exchange.headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(signed, public, algorithms=["RS256"])
    assert claims["iss"] == APP_ID
    assert 0 < claims["exp"] - claims["iat"] <= 600
    [issued] = github.installation_tokens
    reads = github.api_calls("GET", "/repos/acme/infra")
    assert [call.headers["authorization"] for call in reads] == [f"Bearer {issued}"] * 2
    assert issued not in log_text(ctx) and signed not in log_text(ctx)
    assert "installation token obtained" in log_text(ctx)


async def test_an_installation_token_close_to_expiry_is_exchanged_again(
    github: FakeGithub, contexts: Any, app_key: tuple[str, bytes]
) -> None:
    private, public = app_key
    github.add_app(APP_ID, public, INSTALLATION)
    github.token_lifetime = timedelta(minutes=4)  # inside the renewal margin
    ctx = contexts(app_settings(github, private))
    tokens = InstallationTokens()
    for _ in range(2):
        await GithubClient(ctx, tokens=tokens).default_branch("acme/infra")
    assert len(github.api_calls("POST", r"/app/installations/\d+/access_tokens")) == 2


async def test_an_app_key_github_does_not_know_fails_with_its_answer(
    github: FakeGithub, contexts: Any, app_key: tuple[str, bytes]
) -> None:
    private, _public = app_key
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    github.add_app(
        APP_ID,
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        INSTALLATION,
    )
    ctx = contexts(app_settings(github, private))
    with pytest.raises(ActionFailed) as caught:
        await GithubClient(ctx, tokens=InstallationTokens()).default_branch("acme/infra")
    assert "answered 401" in caught.value.message
    assert "JSON web token could not be decoded" in caught.value.message
    assert github.api_calls("GET", "/repos/acme/infra") == []


async def test_a_private_key_that_cannot_sign_fails_without_showing_it(
    github: FakeGithub, contexts: Any
) -> None:
    ctx = contexts(app_settings(github, "-----BEGIN NOT A KEY-----secretstuff"))
    with pytest.raises(ActionFailed, match="cannot sign a JWT") as caught:
        await GithubClient(ctx, tokens=InstallationTokens()).default_branch("acme/infra")
    assert "secretstuff" not in caught.value.message
    assert github.calls == []


# --- retries, timeouts, breaker -------------------------------------------------------


async def test_a_read_is_retried_twice_on_5xx(github: FakeGithub, contexts: Any) -> None:
    github.fail_next(2, 503)
    client = GithubClient(contexts(github_settings(github)))
    assert await client.default_branch("acme/infra") == "main"
    assert len(github.api_calls("GET", "/repos/acme/infra")) == 3


async def test_a_read_failing_three_times_fails_retryable_naming_the_status(
    github: FakeGithub, contexts: Any
) -> None:
    github.fail_next(3, 502)
    with pytest.raises(ActionFailed) as caught:
        await GithubClient(contexts(github_settings(github))).default_branch("acme/infra")
    assert "answered 502" in caught.value.message and "Server Error" in caught.value.message
    assert caught.value.retryable
    assert len(github.api_calls("GET", "/repos/acme/infra")) == 3


async def test_a_write_is_never_retried(github: FakeGithub, contexts: Any) -> None:
    github.fail_next(1, 500)
    client = GithubClient(contexts(github_settings(github)))
    with pytest.raises(ActionFailed, match="answered 500"):
        await client.put_file("acme/infra", "a.txt", "YQ==", "add a", "main", None)
    assert len(github.api_calls("PUT", "/repos/acme/infra/contents/a.txt")) == 1
    repo = github.repo("acme/infra")
    assert "a.txt" not in repo.commits[repo.branches["main"]].tree


async def test_a_slow_answer_times_out_retryable(github: FakeGithub, contexts: Any) -> None:
    settings = github_settings(github)
    settings.http.timeout_seconds = 0.3
    github.delay(1.0)
    with pytest.raises(ActionFailed, match=r"no answer within 0.3 s") as caught:
        await GithubClient(contexts(settings)).put_file(
            "acme/infra", "a.txt", "YQ==", "add a", "main", None
        )
    assert caught.value.retryable


async def test_the_breaker_opens_after_failures_and_closes_after_a_good_trial(
    github: FakeGithub, contexts: Any, clock: FakeClock
) -> None:
    ctx = contexts(github_settings(github))
    client = GithubClient(ctx)
    github.fail_next(3, 502)
    with pytest.raises(ActionFailed, match="answered 502"):
        await client.default_branch("acme/infra")
    # three failures open it: no third retry, and the next call reaches nobody
    assert len(github.calls) == 3
    [(key, state)] = ctx.http.breaker_states().items()
    assert key.startswith("github:main 127.0.0.1:") and state == "open"
    with pytest.raises(ActionFailed, match="circuit") as caught:
        await client.default_branch("acme/infra")
    assert caught.value.retryable and len(github.calls) == 3

    clock.now += 31  # the cool-down is over: one trial call goes through
    assert await client.default_branch("acme/infra") == "main"
    assert list(ctx.http.breaker_states().values()) == ["closed"]


async def test_retries_stop_once_the_breaker_is_open(github: FakeGithub, contexts: Any) -> None:
    settings = github_settings(github)
    settings.http.breaker_failure_threshold = 2
    github.fail_next(5, 503)
    with pytest.raises(ActionFailed, match="answered 503"):
        await GithubClient(contexts(settings)).default_branch("acme/infra")
    assert len(github.calls) == 2
