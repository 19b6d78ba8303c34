"""Demo integrations: when the demo is on (`demo_data`, or `integrations.demo_fakes`), the
fake JIRA, GitHub and Terraform servers of loom.demo.fakes run inside the Loom process
for each system that has no real instance configured, so the sample catalog's requests
open tickets, commit and run Terraform for real HTTP, without any outside account.

`start(runtime)` starts them on 127.0.0.1 ephemeral ports (server threads), fills them
(world.py), adds their pages (pages.py), registers each as the instance named `default`
of its system in the runtime's settings (`effective_integrations`), and starts the ticker
that moves their tickets and runs along (ticker.py). `stop(runtime)` undoes it. The
portal labels what comes from them (`DemoIntegrations.covers`).

Demo only, not for production: the fakes keep everything in memory, accept only the
credentials generated here, and forget it all when Loom stops."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field

import structlog
from pydantic import SecretStr

from loom.demo import EXTRAS_KEY, pages, world
from loom.demo.fakes.github import FakeGithub
from loom.demo.fakes.jira import FakeJira
from loom.demo.fakes.server import FakeServer
from loom.demo.fakes.terraform import FakeTerraform
from loom.demo.ticker import Ticker
from loom.integrations.instances import DEFAULT
from loom.integrations.settings import (
    GithubInstance,
    IntegrationSettings,
    JiraInstance,
    TerraformInstance,
)
from loom.platform.runtime import Runtime
from loom.settings import Settings

log = structlog.get_logger("loom.demo")

SYSTEMS = ("jira", "github", "terraform")
LABELS = {"jira": "JIRA", "github": "GitHub", "terraform": "Terraform"}
#: Calls each fake keeps (for nobody in particular: the demo runs for days).
KEEP_CALLS = 200


def systems_to_fake(settings: Settings) -> tuple[str, ...]:
    """The systems the demo fakes: none unless the demo is on; then each system without a
    configured instance (a real instance always wins)."""
    if not (settings.demo_data or settings.integrations.demo_fakes):
        return ()
    configured = settings.integrations
    return tuple(system for system in SYSTEMS if not getattr(configured, system))


@dataclass
class DemoIntegrations:
    """The running fakes (None for a system with a real instance) and their ticker."""

    jira: FakeJira | None = None
    github: FakeGithub | None = None
    terraform: FakeTerraform | None = None
    ticker: Ticker = field(default_factory=Ticker)
    _ticking: asyncio.Task[None] | None = None

    @classmethod
    def launch(cls, systems: tuple[str, ...]) -> DemoIntegrations:
        """Start and fill the fakes of `systems`, each with credentials of its own."""
        demo = cls()
        try:
            if "jira" in systems:
                demo.jira = FakeJira(
                    email="loom-demo@acme.example",
                    token=secrets.token_urlsafe(18),
                    pat="",
                    projects=world.JIRA_PROJECTS,
                ).start()
            if "github" in systems:
                # Assigned once started: close() stops only servers that run.
                demo.github = FakeGithub(tokens={"ghp_" + secrets.token_urlsafe(27)}).__enter__()
                world.seed_github(demo.github)
            if "terraform" in systems:
                demo.terraform = FakeTerraform(
                    token=secrets.token_urlsafe(24),
                    organization=world.ORGANIZATION,
                    workspaces_on_demand=True,
                ).__enter__()
        except BaseException:
            demo.close()
            raise
        for server in demo._servers():
            server.max_calls = KEEP_CALLS
        pages.install(demo.jira, demo.github, demo.terraform)
        demo.ticker = Ticker(demo.jira, demo.github, demo.terraform)
        return demo

    @property
    def systems(self) -> list[str]:
        """Names of the faked systems, for people: ["JIRA", "GitHub"]."""
        running = {"jira": self.jira, "github": self.github, "terraform": self.terraform}
        return [LABELS[system] for system, fake in running.items() if fake is not None]

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(server.url for server in self._servers())

    def covers(self, url: object) -> bool:
        """Whether `url` points into one of these fakes (the portal's "demo" badge)."""
        text = str(url or "")
        return any(text == base or text.startswith(base + "/") for base in self.urls)

    def effective_integrations(self, configured: IntegrationSettings) -> IntegrationSettings:
        """`configured` with each fake as its system's `default` instance, and escalations
        sent to the fake JIRA's operations project unless a project is configured."""
        update: dict[str, object] = {}
        if self.jira is not None:
            update["jira"] = {DEFAULT: JiraInstance(
                base_url=self.jira.url, auth="api_token", email=self.jira.email,
                token=SecretStr(self.jira.token), api_version="2",
                default_project=world.DEFAULT_PROJECT,
            )}  # fmt: skip
            if not configured.escalation.project:
                update["escalation"] = configured.escalation.model_copy(
                    update={"project": world.DEFAULT_PROJECT}
                )
        if self.github is not None:
            update["github"] = {DEFAULT: GithubInstance(
                api_url=self.github.api_url, web_url=self.github.web_url,
                token=SecretStr(next(iter(self.github.tokens))),
                download_hosts=["127.0.0.1"],
            )}  # fmt: skip
        if self.terraform is not None:
            update["terraform"] = {DEFAULT: TerraformInstance(
                base_url=self.terraform.url, token=SecretStr(self.terraform.token),
                organization=self.terraform.organization,
            )}  # fmt: skip
        return configured.model_copy(update=update)

    def start_ticking(self) -> None:
        self._ticking = asyncio.get_running_loop().create_task(
            self.ticker.run(), name="demo-ticker"
        )

    async def stop_ticking(self) -> None:
        task, self._ticking = self._ticking, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        """Stop the servers (each waits for its thread)."""
        if self.jira is not None:
            self.jira.stop()
        if self.github is not None:
            self.github.__exit__()
        if self.terraform is not None:
            self.terraform.__exit__()

    def _servers(self) -> list[FakeServer]:
        found: list[FakeServer] = []
        if self.jira is not None:
            found.append(self.jira.server)
        if self.github is not None:
            found += [self.github.server, self.github.downloads]
        if self.terraform is not None:
            found.append(self.terraform.server)
        return found


async def start(runtime: Runtime) -> DemoIntegrations | None:
    """Start the demo integrations the settings call for (none: None) and make them the
    runtime's instances."""
    systems = systems_to_fake(runtime.settings)
    if not systems:
        return None
    demo = await asyncio.to_thread(DemoIntegrations.launch, systems)
    integrations = demo.effective_integrations(runtime.settings.integrations)
    runtime.settings = runtime.settings.model_copy(update={"integrations": integrations})
    runtime.extras[EXTRAS_KEY] = demo
    demo.start_ticking()
    log.info(
        "demo integrations started (fakes, not for production)",
        **{system.lower(): url for system, url in zip(demo.systems, _bases(demo), strict=True)},
    )
    return demo


async def stop(runtime: Runtime) -> None:
    demo: DemoIntegrations | None = runtime.extras.pop(EXTRAS_KEY, None)
    if demo is None:
        return
    await demo.stop_ticking()
    await asyncio.to_thread(demo.close)
    log.info("demo integrations stopped")


def _bases(demo: DemoIntegrations) -> list[str]:
    fakes = [demo.jira, demo.github, demo.terraform]
    return [fake.server.url for fake in fakes if fake is not None]
