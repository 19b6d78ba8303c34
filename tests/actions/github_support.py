"""Shared set-up of the GitHub tests (client, github-commit, github-workflow): settings
pointing a GitHub instance at a FakeGithub, HttpClients on a controllable clock, and
action contexts for a fixed task id."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from loom.actions.base import ActionContext
from loom.demo.fakes.github import FakeGithub
from loom.platform.http import HttpClients
from loom.settings import Settings

TOKEN = "ghp_fake7Hc2Qe91xZ"
TASK_ID = uuid.UUID("00000000-0000-0000-0000-0000000000c7")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def github_settings(github: FakeGithub, **instance: Any) -> Settings:
    """Settings with one GitHub instance, `main`, on `github` (the token unless the
    App fields are given), and a breaker opening after 3 failures for 30 s."""
    values: dict[str, Any] = {
        "api_url": github.api_url,
        "web_url": github.web_url,
        "download_hosts": ["127.0.0.1"],
        **({"token": TOKEN} if "app_id" not in instance else {}),
        **instance,
    }
    return Settings(
        env="test",
        http={
            "breaker_failure_threshold": 3,
            "breaker_cooldown_seconds": 30,
            "timeout_seconds": 5,
        },
        integrations={"github": {"main": values}},
    )


def make_context(
    config_model: type[BaseModel],
    config: dict[str, Any],
    http: HttpClients,
    settings: Settings,
    *,
    attempt: int = 1,
) -> ActionContext[Any]:
    return ActionContext(
        request_id=uuid.uuid4(),
        task_id=TASK_ID,
        attempt=attempt,
        config=config_model.model_validate(config),
        http=http,
        settings=settings,
        env={},
    )


def log_text(ctx: ActionContext[Any]) -> str:
    return "\n".join(line.message for line in ctx.lines)
