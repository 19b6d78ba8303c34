"""The "webhook" channel: an incident's (or a request's) event POSTed (or PUT) as JSON to any URL.

The body is Loom's default object or the channel's template (`webhook_body`). With an
HMAC secret, `X-Loom-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the exact body
bytes under the secret (as GitHub signs its webhooks) and `X-Loom-Timestamp` the Unix
time of sending (not covered by the signature, as with GitHub: a receiver that must refuse
replays keeps the bodies it saw); with an authorization secret, it is sent as the
`Authorization` header.

Answers: 2xx is delivered; 408, 425, 429 and 5xx are transient (Retry-After honoured);
any other 4xx is permanent.

Wire format: HMAC-SHA256 hex signature header as GitHub's `X-Hub-Signature-256`
(https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries);
Retry-After, RFC 9110 section 10.2.3 (https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import ClassVar, Literal

import httpx
from pydantic import BaseModel, Field, field_validator

from loom.notify.channels import webhook_body
from loom.notify.channels.base import (
    EXCERPT,
    Outcome,
    PermanentFailure,
    Target,
    TransientFailure,
    check,
    request,
)
from loom.notify.message import Message
from loom.platform.http import is_credential_header

#: Settings holding secrets (stored encrypted, masked when shown).
SECRET_FIELDS: tuple[str, ...] = ("hmac_secret", "authorization")

SIGNATURE_HEADER = "X-Loom-Signature-256"
TIMESTAMP_HEADER = "X-Loom-Timestamp"
# Headers Loom sets itself, or that would break the request if a user set them.
_RESERVED = frozenset(
    {"content-type", "content-length", "host", "transfer-encoding", "connection"}
    | {SIGNATURE_HEADER.lower(), TIMESTAMP_HEADER.lower()}
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 5.1)


class Config(BaseModel):
    """Non-secret settings of a webhook channel (`hmac_secret` and `authorization` are in
    `SECRET_FIELDS`)."""

    url: str = Field(max_length=2000, pattern=r"^https?://[^\s@/?#]+([/?#]\S*)?$")
    method: Literal["POST", "PUT"] = "POST"
    #: Extra headers; nothing secret (credentials go in the `authorization` secret).
    headers: dict[str, str] = Field(default_factory=dict, max_length=20)
    #: The JSON body as a template of `.event`, `.version`, `.incident.<field>` and
    #: `.request.<field>` (see `webhook_body`); none: the default body.
    template: str | None = None

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"not a header name: {name!r}")
            if name.lower() in _RESERVED:
                raise ValueError(f"{name}: Loom sets this header itself")
            if is_credential_header(name):
                raise ValueError(
                    f"{name}: looks like a credential; headers are not secret (use the "
                    "'authorization' secret)"
                )
            if "\r" in value or "\n" in value or len(value) > 1000:
                raise ValueError(f"{name}: the value must be one line of at most 1000 characters")
        return headers

    @field_validator("template")
    @classmethod
    def _template(cls, template: str | None) -> str | None:
        if template is not None and template.strip():
            webhook_body.validate_template(template)
            return template
        return None


class WebhookSender:
    kind: ClassVar[str] = "webhook"

    async def send(self, target: Target, message: Message, *, http: httpx.AsyncClient) -> Outcome:
        try:
            config = Config.model_validate(dict(target.config))
        except ValueError as exc:
            raise PermanentFailure(f"webhook channel settings are invalid: {exc}") from None
        secrets = [value for value in target.secrets.values() if value]
        body = _body(config, message)
        headers = {**config.headers, "Content-Type": "application/json"}
        authorization = target.secrets.get("authorization")
        if authorization:
            headers["Authorization"] = authorization
        secret = target.secrets.get("hmac_secret")
        if secret:
            headers[TIMESTAMP_HEADER] = str(int(time.time()))
            headers[SIGNATURE_HEADER] = "sha256=" + signature(secret, body)
        response = await request(
            http, "webhook", config.method, config.url, content=body, headers=headers
        )
        text = _masked(response.text, secrets)[:EXCERPT]
        try:
            check(response, f"webhook {config.method}")
        except (TransientFailure, PermanentFailure) as failure:
            failure.response = text
            raise
        return Outcome(remote_ref=None, http_status=response.status_code, response=text)


def signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `body` under `secret` (what `X-Loom-Signature-256` carries)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _body(config: Config, message: Message) -> bytes:
    if config.template is None:
        return json.dumps(webhook_body.payload(message), ensure_ascii=False).encode()
    try:
        return webhook_body.render(config.template, message)
    except (webhook_body.TemplateInvalid, webhook_body.TemplateFailed) as exc:
        raise PermanentFailure(str(exc)) from None


def _masked(text: str, secrets: list[str]) -> str:
    """A remote answer with any secret it echoes (a debugging endpoint) masked."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
