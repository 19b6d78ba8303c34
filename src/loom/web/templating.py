"""Rendering portal pages: one autoescaping Jinja2 environment over web/templates, and
`render()`, which gives every template the same frame (user, navigation, CSRF token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from loom import __version__
from loom.auth.principal import Principal
from loom.demo import EXTRAS_KEY as DEMO_INTEGRATIONS
from loom.web.csrf import FORM_FIELD, HEADER, csrf_token
from loom.web.navigation import NAV, current_slug

TEMPLATE_DIR = Path(__file__).parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)

#: Pages show the signed-in user's data: never cache them anywhere.
NO_STORE = {"Cache-Control": "no-store"}


def page_principal(request: Request) -> Principal | None:
    """The principal a page dependency stored on the request, if any."""
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _frame(request: Request) -> dict[str, Any]:
    principal = page_principal(request)
    return {
        "principal": principal,
        "nav": [item for item in NAV if item.visible_to(principal)],
        "nav_current": current_slug(request.url.path),
        "path": request.url.path,
        "csrf_token": csrf_token(request),
        "csrf_field": FORM_FIELD,
        "csrf_header": HEADER,
        "version": __version__,
        # The demo's fake JIRA/GitHub/Terraform, when they run: a banner says so, and
        # links into them carry a "demo integration" badge (`demo.covers(url)`).
        "demo": _demo_integrations(request),
    }


def _demo_integrations(request: Request) -> Any:
    runtime = getattr(request.app.state, "runtime", None)
    return runtime.extras.get(DEMO_INTEGRATIONS) if runtime is not None else None


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    values = {**_frame(request), **(context or {})}
    return templates.TemplateResponse(
        request,
        template,
        values,
        status_code=status_code,
        headers={**NO_STORE, **(headers or {})},
    )
