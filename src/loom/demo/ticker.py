"""The demo integrations' pretend colleagues and machines: a ticker that moves what the
fakes hold along, so a demo request visibly progresses. JIRA tickets go To Do → In
Progress → Done (someone did the manual step), GitHub workflow runs and Terraform runs
complete after a few seconds.

This is the demo's behaviour, not the fakes': tests drive the fakes themselves and never
run a ticker. Demo only, not for production."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from loom.demo import world
from loom.demo.fakes.github import FakeGithub
from loom.demo.fakes.jira import FakeJira
from loom.demo.fakes.terraform import FakeTerraform

log = structlog.get_logger("loom.demo")

#: Seconds after it was first seen that a ticket is picked up, then done.
TICKET_STARTED_AFTER = 10.0
TICKET_DONE_AFTER = 30.0
#: Seconds after it was first seen that a workflow run starts, then succeeds.
RUN_STARTED_AFTER = 2.0
RUN_DONE_AFTER = 6.0
#: Seconds between two steps of a Terraform run (pending → planning → ... → applied).
TERRAFORM_STEP = 2.0
TICK_SECONDS = 1.0


@dataclass
class Ticker:
    """Moves the fakes' tickets and runs along; `tick()` does one round."""

    jira: FakeJira | None = None
    github: FakeGithub | None = None
    terraform: FakeTerraform | None = None
    clock: Callable[[], float] = time.monotonic
    #: When each ticket or run was first seen, or (Terraform) last moved.
    _since: dict[str, float] = field(default_factory=dict)

    def tick(self) -> None:
        now = self.clock()
        if self.jira is not None:
            self._tickets(self.jira, now)
        if self.github is not None:
            self._workflow_runs(self.github, now)
        if self.terraform is not None:
            self._terraform_runs(self.terraform, now)

    async def run(self) -> None:
        """Tick until cancelled; a failing round is logged and the next one tried."""
        while True:
            try:
                self.tick()
            except Exception:  # a demo hiccup must not stop the demo
                log.exception("demo ticker round failed")
            await asyncio.sleep(TICK_SECONDS)

    def _age(self, key: str, now: float) -> float:
        return now - self._since.setdefault(key, now)

    def _tickets(self, jira: FakeJira, now: float) -> None:
        for key, status in jira.statuses().items():
            age = self._age(f"jira {key}", now)
            if status == "Done":
                continue
            if age >= TICKET_DONE_AFTER:
                jira.set_status(key, "Done")
                log.info("demo JIRA: ticket done", key=key)
            elif age >= TICKET_STARTED_AFTER and status == "To Do":
                jira.set_status(key, "In Progress")

    def _workflow_runs(self, github: FakeGithub, now: float) -> None:
        for repo, run in github.unfinished_runs():
            age = self._age(f"run {run.id}", now)
            if age >= RUN_DONE_AFTER:
                world.finish_run(github, repo, run)
                github.advance_run(run.id, "completed", "success")
                log.info("demo GitHub: run succeeded", repo=repo.full_name, run=run.id)
            elif age >= RUN_STARTED_AFTER and run.status == "queued":
                github.advance_run(run.id, "in_progress")

    def _terraform_runs(self, terraform: FakeTerraform, now: float) -> None:
        for run in terraform.unfinished_runs():
            key = f"terraform {run.id}"
            if self._age(key, now) < TERRAFORM_STEP:
                continue
            if run.status == "planned" and not run.auto_apply:
                continue  # waits for a person to confirm it, as Terraform would
            if run.status == "applying":
                workspace = next(w for w in terraform.workspaces.values()
                                 if w.id == run.workspace_id)  # fmt: skip
                terraform.set_outputs(workspace.name, world.terraform_outputs(workspace.name))
            status = terraform.advance(run.id)
            self._since[key] = now
            if status == "applied":
                log.info("demo Terraform: run applied", run=run.id)
