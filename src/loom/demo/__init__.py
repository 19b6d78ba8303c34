"""The demo that `make serve` runs (LOOM_DEMO_DATA=true): demo data seeded into an empty
database (`seed`), and demo integrations: local fake JIRA, GitHub and Terraform servers
(`fakes/`, which the tests use too) run inside the process for the systems that have no
real instance configured (`start_integrations`; see integrations.py), a fake Slack and
PagerDuty that the demo's notification rules send to (notify.py), with a local target
for the sample services' health checks (target.py), and once the initial catalog sync
has made the sample services, their deployments and checks (`seed_registry_after`;
registry.py).

Nothing here is for production: the fakes keep their data in memory and forget it when
the process stops."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from loom.demo.seed import APPROVER, PEOPLE, TEAMS, DemoSeed, seed

if TYPE_CHECKING:
    from loom.platform.runtime import Runtime

#: Where `runtime.extras` keeps the running demo integrations (a DemoIntegrations).
EXTRAS_KEY = "demo_integrations"

__all__ = [
    "APPROVER",
    "EXTRAS_KEY",
    "PEOPLE",
    "TEAMS",
    "DemoSeed",
    "seed",
    "seed_registry_after",
    "start_integrations",
    "stop_integrations",
]


async def start_integrations(runtime: Runtime) -> None:
    """Start the demo integrations when the settings call for them (see integrations.py)."""
    settings = runtime.settings
    if settings.demo_data or settings.integrations.demo_fakes:
        # Imported only then: a production process never loads the fakes.
        from loom.demo import integrations, target

        await target.start(runtime)
        await integrations.start(runtime)
    if settings.demo_data:
        from loom.demo import notify

        await notify.start(runtime)


def seed_registry_after(
    runtime: Runtime, sync: asyncio.Task[Any] | None
) -> asyncio.Task[None] | None:
    """In the demo, seed the registry's deployments and checks once `sync` (the initial
    catalog sync, None if there is none) is done; the task doing it, if any."""
    if sync is None or not runtime.settings.demo_data:
        return None
    from loom.demo import registry

    return registry.seed_after(runtime, sync)


async def stop_integrations(runtime: Runtime) -> None:
    from loom.demo import notify, registry, target

    await notify.stop(runtime)
    seeding = runtime.extras.pop(registry.TASK_KEY, None)
    if seeding is not None:
        seeding.cancel()
    await target.stop(runtime)
    if EXTRAS_KEY in runtime.extras:
        from loom.demo import integrations

        await integrations.stop(runtime)
