"""/docs: Swagger UI over the API's OpenAPI document, served entirely from /static (no
CDN). Public, like the openapi.json it reads: it is documentation, not data.

The page needs one inline script (it starts Swagger UI); the page's own
Content-Security-Policy allows exactly that script, by hash."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from loom.web.routing import page_router

OPENAPI_URL = "/api/v1/openapi.json"
SWAGGER = "/static/vendor/swagger-ui"

router = page_router()

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@lru_cache(maxsize=1)
def _page() -> tuple[bytes, str]:
    html = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title="Loom API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        # No badge fetched from validator.swagger.io: the page must work offline.
        swagger_ui_parameters={"validatorUrl": None},
    ).body
    body = bytes(html)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body.decode())
    )
    csp = (
        "default-src 'self'; "
        f"script-src 'self' {hashes}; "
        # Swagger UI sets inline styles on the elements it draws.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )
    return body, csp


@router.get("/docs")
async def docs() -> Response:
    body, csp = _page()
    return HTMLResponse(body, headers={"Content-Security-Policy": csp})
