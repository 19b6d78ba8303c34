"""The demo that `make serve` runs (LOOM_DEMO_DATA=true): demo data seeded into an empty
database (`seed`), and demo integrations: local fake JIRA, GitHub and Terraform servers
(`fakes/`, which the tests use too) run inside the process for the systems that have no
real instance configured (`start_integrations`; see integrations.py), with a local target
for the sample services' health checks (target.py).

Nothing here is for production: the fakes keep their data in memory and forget it when
the process stops."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


async def stop_integrations(runtime: Runtime) -> None:
    from loom.demo import target

    await target.stop(runtime)
    if EXTRAS_KEY in runtime.extras:
        from loom.demo import integrations

        await integrations.stop(runtime)
