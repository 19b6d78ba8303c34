"""Running a service's enabled checks now, on demand (the API's `POST .../checks/run`,
the CLI's `loom service check` and the portal's "Run checks now" button), rather than
waiting for their slots."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.platform.runtime import Runtime
from loom.services.check_models import ServiceCheck
from loom.services.checks import probe, schemas, service
from loom.services.checks.scheduler import pool_of
from loom.services.service import get_service, require_operator


async def run_checks(
    session: AsyncSession, principal: Principal, slug: str, runtime: Runtime
) -> list[schemas.Check]:
    """Run the enabled checks of `slug` (operators of the owning team), store the results
    and return the checks with them. Owns its transactions: the probes run between two,
    not inside one (a slow endpoint must not hold a transaction open)."""
    async with session.begin():
        found = await get_service(session, principal, slug)
        require_operator(principal, found.team_id)
        checks = (
            await session.scalars(
                service.checks_query(found)
                .where(ServiceCheck.enabled.is_(True))
                .order_by(ServiceCheck.name)
            )
        ).all()
        targets = [(c.id, probe.Probe.of(c)) for c in checks]
    await pool_of(runtime).run_all(targets)
    async with session.begin():
        found = await get_service(session, principal, slug)
        ids = [check_id for check_id, _p in targets]
        fresh = await session.scalars(
            service.checks_query(found)
            .where(ServiceCheck.id.in_(ids))
            .order_by(ServiceCheck.name)
            .execution_options(populate_existing=True)
        )
        return [service.check_out(c, slug) for c in fresh]
