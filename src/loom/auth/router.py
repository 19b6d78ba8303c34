"""Identity endpoints: the caller, API tokens, teams and members, users."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from loom.api.deps import CurrentPrincipal, OrgAdmin, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.auth import schemas, service, tokens
from loom.auth.models import ApiToken, Team, User
from loom.auth.roles import Role

router = APIRouter(tags=["identity"])


@router.get("/me", response_model=schemas.Me)
async def me(principal: CurrentPrincipal) -> schemas.Me:
    return schemas.Me(
        user_id=principal.user_id,
        org_id=principal.org_id,
        email=principal.email,
        name=principal.name,
        org_role=principal.org_role.label,  # type: ignore[arg-type]
        teams={str(t): r.label for t, r in principal.team_roles.items()},  # type: ignore[misc]
        scopes=sorted(principal.scopes),
        via=principal.via,
    )


@router.post("/tokens", response_model=schemas.TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(
    body: schemas.TokenCreate, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> schemas.TokenCreated:
    """Mint a token. Without `expires_in_days` it expires after the configured default
    (auth.token_default_ttl_days); `"expires_in_days": null` asks for no expiry."""
    expires = (
        body.expires_in_days
        if "expires_in_days" in body.model_fields_set
        else runtime.settings.auth.token_default_ttl_days
    )
    async with session.begin():
        token, plaintext = await tokens.create_token(
            session, principal, name=body.name, scopes=list(body.scopes), expires_in_days=expires
        )
    return schemas.TokenCreated(**schemas.Token.model_validate(token).model_dump(), token=plaintext)


@router.get("/tokens", responses={200: {"model": Page[schemas.Token]}})
async def list_tokens(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep, include_revoked: bool = True
) -> dict[str, Any]:
    """The caller's tokens, newest first."""
    stmt = tokens.tokens_query(principal, include_revoked=include_revoked)
    async with session.begin():
        rows, cursor = await paginate(session, stmt, [ApiToken.created_at, ApiToken.id], page)
    return page_body([schemas.Token.model_validate(t) for t in rows], cursor, page)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(
    token_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await tokens.revoke_token(session, principal, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/teams", responses={200: {"model": Page[schemas.Team]}})
async def list_teams(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """Teams you can see, by slug: your own, or every team for organisation admins."""
    stmt = service.teams_query(principal)
    async with session.begin():
        rows, cursor = await paginate(session, stmt, [Team.slug, Team.id], page, descending=False)
    return page_body([schemas.Team.model_validate(t) for t in rows], cursor, page)


@router.post("/teams", response_model=schemas.Team, status_code=status.HTTP_201_CREATED)
async def create_team(
    body: schemas.TeamCreate, principal: OrgAdmin, session: SessionDep
) -> schemas.Team:
    async with session.begin():
        team = await service.create_team(session, principal, body.slug, body.name, body.description)
    return schemas.Team.model_validate(team)


@router.get("/teams/{team_id}", response_model=schemas.Team)
async def get_team(
    team_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Team:
    async with session.begin():
        team = await service.get_team(session, principal, team_id)
    return schemas.Team.model_validate(team)


@router.patch("/teams/{team_id}", response_model=schemas.Team)
async def update_team(
    team_id: uuid.UUID, body: schemas.TeamUpdate, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Team:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    async with session.begin():
        team = await service.update_team(session, principal, team_id, changes)
    return schemas.Team.model_validate(team)


@router.get("/teams/{team_id}/members", response_model=list[schemas.Member])
async def list_members(
    team_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> list[schemas.Member]:
    async with session.begin():
        rows = await service.list_members(session, principal, team_id)
    return [
        schemas.Member(user_id=u.id, email=u.email, name=u.name, role=r.label)  # type: ignore[arg-type]
        for u, r in rows
    ]


@router.put("/teams/{team_id}/members", response_model=schemas.Member)
async def set_member(
    team_id: uuid.UUID, body: schemas.MemberSet, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Member:
    async with session.begin():
        user = await service.set_member(
            session, principal, team_id, body.email, Role.parse(body.role)
        )
    return schemas.Member(user_id=user.id, email=user.email, name=user.name, role=body.role)


@router.delete("/teams/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    team_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await service.remove_member(session, principal, team_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", responses={200: {"model": Page[schemas.User]}})
async def list_users(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep, email: str | None = None
) -> dict[str, Any]:
    """People of your organisation, by email."""
    stmt = service.users_query(principal, email)
    async with session.begin():
        rows, cursor = await paginate(session, stmt, [User.email, User.id], page, descending=False)
    return page_body([schemas.User.model_validate(u) for u in rows], cursor, page)


@router.post("/users", response_model=schemas.User, status_code=status.HTTP_201_CREATED)
async def create_user(
    body: schemas.UserCreate, principal: OrgAdmin, session: SessionDep
) -> schemas.User:
    async with session.begin():
        user = await service.create_user(
            session,
            principal,
            email=body.email,
            name=body.name,
            password=body.password,
            org_role=Role.parse(body.org_role),
        )
    return schemas.User.model_validate(user)
