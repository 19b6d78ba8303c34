"""Contact method endpoints: a person's ways of being paged (`contacts_service`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from loom.api.deps import CurrentPrincipal, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.notify import contacts_service as contacts
from loom.notify import schemas, views
from loom.notify.models import ContactMethod

router = APIRouter(prefix="/notify", tags=["notify"])


@router.get("/contact-methods", responses={200: {"model": Page[schemas.ContactMethod]}})
async def list_contact_methods(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    user: Annotated[str | None, Query(description="whose (an e-mail; admins)")] = None,
) -> dict[str, Any]:
    """The caller's contact methods (an organisation admin: `user`'s), in paging order."""
    async with session.begin():
        user_id = await contacts.whose(session, principal, user)
        rows, cursor = await paginate(
            session, contacts.list_query(principal, user_id),
            [ContactMethod.position, ContactMethod.created_at, ContactMethod.id], page,
            descending=False,
        )  # fmt: skip
        items = await views.contacts_out(session, rows)
    return page_body(items, cursor, page)


@router.post(
    "/contact-methods", response_model=schemas.ContactMethod, status_code=status.HTTP_201_CREATED
)
async def create_contact_method(
    body: schemas.ContactMethodIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.ContactMethod:
    async with session.begin():
        method = await contacts.create(session, principal, body)
        return (await views.contacts_out(session, [method]))[0]


@router.delete("/contact-methods/{method_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact_method(
    method_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await contacts.delete(session, principal, method_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
