"""Health checks of a service: create, read, change and remove them. No HTTP here; the
caller owns the transaction.

Like the registry, checks are readable by every member of the organisation; changing
them needs the operator role in the team that owns the service. Header values that look
like secrets (Authorization, X-Api-Key...) are masked whenever a check is shown or
audited; sending the mask back in a change keeps the stored value.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.audit.masking import MASK
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import Conflict, FieldIssue, InvalidInput, NotFound
from loom.platform.http import is_credential_header
from loom.services.check_models import ServiceCheck, ServiceCheckResult
from loom.services.checks import jsonpath, schemas, status
from loom.services.checks.schemas import CheckStatus
from loom.services.models import Service
from loom.services.service import get_service, require_operator

#: Fields a change may clear (send null); the others need a value.
_NULLABLE = frozenset(
    {"body_contains", "json_path", "json_expected", "latency_threshold_ms", "environment"}
)
#: Changing any of these changes what is probed: the status starts again from unknown.
_PROBED = frozenset({
    "url", "method", "expected_status", "body_contains", "json_path", "json_expected",
    "timeout_seconds", "latency_threshold_ms", "headers",
})  # fmt: skip


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (MASK if is_credential_header(k) and v else v) for k, v in headers.items()}


def check_out(check: ServiceCheck, service_slug: str) -> schemas.Check:
    """What the API shows of a check."""
    return schemas.Check(
        id=check.id,
        service=service_slug,
        name=check.name,
        url=check.url,
        method=check.method,  # type: ignore[arg-type]
        expected_status=check.expected_status,
        body_contains=check.body_contains,
        json_path=check.json_path,
        json_expected=check.json_expected,
        timeout_seconds=check.timeout_seconds,
        interval_seconds=check.interval_seconds,
        latency_threshold_ms=check.latency_threshold_ms,
        enabled=check.enabled,
        headers=masked_headers(check.headers),
        environment=check.environment,
        next_run_at=check.next_run_at,
        status=check.status,  # type: ignore[arg-type]
        status_since=check.status_since,
        last_result=check.last_result,  # type: ignore[arg-type]
        created_at=check.created_at,
        updated_at=check.updated_at,
    )


def result_out(result: ServiceCheckResult) -> schemas.StoredResult:
    return schemas.StoredResult(
        id=result.id,
        scheduled_at=result.scheduled_at,
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        ok=result.ok,
        status_code=result.status_code,
        outcome=result.outcome,  # type: ignore[arg-type]
        message=result.message,
    )


def _data(check: ServiceCheck, slug: str) -> dict[str, Any]:
    return check_out(check, slug).model_dump(
        mode="json", exclude={"next_run_at", "status", "status_since", "last_result"}
    )


def validate_url(url: str) -> str:
    """An absolute http(s) URL with a host (whether the host may be called is judged on
    each run, by the allow-list)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidInput.on("url", f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput.on("url", "must be an http:// or https:// URL")
    if not parsed.host:
        raise InvalidInput.on("url", "needs a host")
    return url


def _validate_path(path: str | None) -> None:
    if path is not None:
        try:
            jsonpath.parse(path)
        except jsonpath.PathError as exc:
            raise InvalidInput.on("json_path", str(exc)) from None


def checks_query(service: Service) -> Select[Any]:
    return select(ServiceCheck).where(
        ServiceCheck.org_id == service.org_id, ServiceCheck.service_id == service.id
    )


def results_query(check: ServiceCheck) -> Select[Any]:
    return select(ServiceCheckResult).where(
        ServiceCheckResult.org_id == check.org_id, ServiceCheckResult.check_id == check.id
    )


async def get_check(
    session: AsyncSession, principal: Principal, slug: str, check_id: uuid.UUID
) -> tuple[Service, ServiceCheck]:
    service = await get_service(session, principal, slug)
    check = await session.scalar(checks_query(service).where(ServiceCheck.id == check_id))
    if check is None:
        raise NotFound(f"service '{slug}' has no check {check_id}")
    return service, check


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a check '{name}' already exists", [FieldIssue("name", "already taken")])


async def create_check(
    session: AsyncSession, principal: Principal, slug: str, body: schemas.CheckCreate
) -> ServiceCheck:
    service = await get_service(session, principal, slug)
    require_operator(principal, service.team_id)
    validate_url(body.url)
    _validate_path(body.json_path)
    if await session.scalar(checks_query(service).where(ServiceCheck.name == body.name)):
        raise _name_taken(body.name)
    now = utcnow()
    check = ServiceCheck(
        org_id=service.org_id, service_id=service.id, next_run_at=now, status_since=now,
        status=CheckStatus.UNKNOWN.value, **body.model_dump(mode="json"),
    )  # fmt: skip
    session.add(check)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent twin won the race
        raise _name_taken(body.name) from None
    await audit_check(
        session, principal, service, check, "service.check.create", after=_data(check, slug)
    )
    return check


async def update_check(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    check_id: uuid.UUID,
    body: schemas.CheckUpdate,
) -> ServiceCheck:
    service, check = await get_check(session, principal, slug, check_id)
    require_operator(principal, service.team_id)
    sent = body.model_dump(mode="json", include=body.model_fields_set)
    for key, value in sent.items():
        if value is None and key not in _NULLABLE:
            raise InvalidInput.on(key, "cannot be null")
    if "url" in sent:
        validate_url(sent["url"])
    _validate_path(sent.get("json_path"))
    if "headers" in sent:  # the mask sent back means "keep what is stored"
        sent["headers"] = {
            k: (check.headers.get(k, v) if v == MASK else v) for k, v in sent["headers"].items()
        }
    if sent.get("name", check.name) != check.name and await session.scalar(
        checks_query(service).where(ServiceCheck.name == sent["name"])
    ):
        raise _name_taken(sent["name"])
    old = _data(check, slug)
    probed_change = any(sent[k] != getattr(check, k) for k in sent if k in _PROBED)
    for key, value in sent.items():
        setattr(check, key, value)
    if probed_change or sent.get("enabled") is True:
        # A new definition is judged afresh, and soon.
        check.next_run_at = utcnow()
    if probed_change and status.changes(CheckStatus(check.status), CheckStatus.UNKNOWN):
        check.status, check.status_since = CheckStatus.UNKNOWN.value, utcnow()
    try:
        await session.flush()
    except IntegrityError:
        raise _name_taken(str(sent.get("name"))) from None
    new = _data(check, slug)
    changed = [k for k in new if new[k] != old[k] and k != "updated_at"]
    if changed:
        await audit_check(
            session, principal, service, check, "service.check.update",
            before={k: old[k] for k in changed}, after={k: new[k] for k in changed},
        )  # fmt: skip
    return check


async def delete_check(
    session: AsyncSession, principal: Principal, slug: str, check_id: uuid.UUID
) -> None:
    """Remove a check and its results."""
    service, check = await get_check(session, principal, slug, check_id)
    require_operator(principal, service.team_id)
    before = _data(check, slug)
    await session.delete(check)
    await session.flush()
    await audit_check(session, principal, service, check, "service.check.delete", before=before)


async def audit_check(
    session: AsyncSession,
    actor: Principal | audit.Actor,
    service: Service,
    check: ServiceCheck,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """An audit entry about one of `service`'s checks, by a person or by the system."""
    await audit.record(
        session, org_id=service.org_id, actor=actor, action=action,
        target_type="service_check", target_id=check.id, team_id=service.team_id,
        before=before, after=after,
    )  # fmt: skip
