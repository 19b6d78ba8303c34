"""Starting and stopping the background components of a process (scheduler, and the
worker pool once provisioning lands)."""

from __future__ import annotations

from loom.platform.runtime import Runtime


async def start_background(runtime: Runtime) -> None:
    if runtime.settings.scheduler.enabled:
        from loom.platform.scheduler import LeasedScheduler

        scheduler = LeasedScheduler(runtime)
        runtime.extras["scheduler"] = scheduler
        scheduler.start()


async def stop_background(runtime: Runtime) -> None:
    scheduler = runtime.extras.pop("scheduler", None)
    if scheduler is not None:
        await scheduler.shutdown()
