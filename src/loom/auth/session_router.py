"""Password login for people: sets the signed session cookie the portal uses (and that
`loom login` exchanges for an API token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from loom.api.deps import SESSION_USER_KEY, RuntimeDep, SessionDep
from loom.auth import service
from loom.auth.throttle import LoginThrottle
from loom.platform.runtime import Runtime

router = APIRouter(prefix="/auth", tags=["identity"])


def login_throttle(runtime: Runtime) -> LoginThrottle:
    """The process's login throttle (shared by the API and the portal's login form)."""
    throttle: LoginThrottle = runtime.extras.setdefault("login_throttle", LoginThrottle())
    return throttle


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class LoginResult(BaseModel):
    user_id: str
    email: str


@router.post("/login", response_model=LoginResult)
async def login(
    body: LoginBody, request: Request, session: SessionDep, runtime: RuntimeDep
) -> LoginResult:
    async with session.begin():
        user = await service.login(session, body.email, body.password, login_throttle(runtime))
    request.session.clear()
    request.session[SESSION_USER_KEY] = str(user.id)
    return LoginResult(user_id=str(user.id), email=user.email)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request) -> Response:
    request.session.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
