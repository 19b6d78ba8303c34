"""Starting and stopping the background components of a process (the scheduler, and the
worker pool once provisioning lands). Stopping is graceful: components stop taking new
work and finish what they started, within `server.graceful_timeout_seconds`."""

from __future__ import annotations

from loom.platform.runtime import Runtime


async def start_background(runtime: Runtime) -> None:
    if runtime.settings.scheduler.enabled:
        # Imported here: processes without a scheduler never load APScheduler.
        from loom.platform.scheduler import LeasedScheduler

        scheduler = LeasedScheduler(runtime)
        runtime.extras["scheduler"] = scheduler
        scheduler.start()


async def stop_background(runtime: Runtime) -> None:
    scheduler = runtime.extras.pop("scheduler", None)
    if scheduler is not None:
        await scheduler.shutdown(runtime.settings.server.graceful_timeout_seconds)
