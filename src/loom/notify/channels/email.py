"""The "email" channel: an incident event sent as one mail over SMTP (aiosmtplib).

Implicit TLS (port 465), STARTTLS (port 587, the default) or plain SMTP; optional AUTH.
A `Target.recipient` (one address: an escalation paging a person) replaces the
channel's recipients for that mail. The mail's `Message-ID` is the remote reference, so
a later event on the same incident answers it (`In-Reply-To`/`References`) and mail
clients thread them.

Failures: refused credentials, sender or recipients (5xx), a certificate that does not
verify and a server lacking STARTTLS/AUTH are permanent; refused or timed-out
connections, dropped sessions and any 4xx reply (greylisting, a full queue) are
transient. The password never appears in a failure.

Wire format: SMTP reply codes, RFC 5321 section 4.2
(https://www.rfc-editor.org/rfc/rfc5321#section-4.2); aiosmtplib's `send` and exception classes as
in its 5.x source (api.py, errors.py; https://pypi.org/project/aiosmtplib/).
"""

from __future__ import annotations

import re
import ssl
from email.utils import parseaddr
from typing import Annotated, ClassVar, Literal

import aiosmtplib
import httpx
from pydantic import AfterValidator, BaseModel, Field

from loom.notify.channels import email_body
from loom.notify.channels.base import (
    DeliveryFailure,
    Outcome,
    PermanentFailure,
    Target,
    TransientFailure,
)
from loom.notify.message import Message

#: Settings holding secrets (stored encrypted, masked when shown).
SECRET_FIELDS: tuple[str, ...] = ("password",)

# A plain `local@domain` address: no display name, no spaces, no line breaks.
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def _address(value: str) -> str:
    value = value.strip()
    if not _ADDRESS.fullmatch(value) or parseaddr(value)[1] != value:
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


Address = Annotated[str, AfterValidator(_address)]


class Config(BaseModel):
    """Non-secret settings of an e-mail channel (the password is in `SECRET_FIELDS`)."""

    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")
    port: int = Field(default=587, ge=1, le=65535)
    #: "starttls": upgrade a plain connection (587); "tls": TLS from the start (465);
    #: "none": no encryption (a relay on the same host only).
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    #: The From address.
    sender: Address
    recipients: list[Address] = Field(min_length=1, max_length=100)
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    #: Verify the server's certificate (turn off only for a test relay).
    verify_tls: bool = True
    #: A PEM file of CA certificates to verify the server with (a private CA).
    ca_file: str | None = None


class EmailSender:
    kind: ClassVar[str] = "email"

    async def send(self, target: Target, message: Message, *, http: httpx.AsyncClient) -> Outcome:
        """Send one mail; `http` is not used (SMTP is not HTTP)."""
        try:
            config = Config.model_validate(dict(target.config))
        except ValueError as exc:
            raise PermanentFailure(f"e-mail channel settings are invalid: {exc}") from None
        password = target.secrets.get("password") or None
        # A person paged through the channel gets the mail alone, not its recipients.
        recipients = config.recipients
        if target.recipient:
            try:
                recipients = [_address(target.recipient)]
            except ValueError as exc:
                raise PermanentFailure(f"e-mail recipient: {exc}") from None
        mail = email_body.build(
            message, sender=config.sender, recipients=recipients, previous=target.previous
        )
        try:
            errors, reply = await aiosmtplib.send(
                mail,
                sender=config.sender,
                recipients=recipients,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=password if config.username else None,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                validate_certs=config.verify_tls,
                tls_context=_tls_context(config),
                timeout=config.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _scrub(_failure(exc), password) from None
        refused = ", ".join(f"{rcpt} ({r.code})" for rcpt, r in errors.items())
        text = f"{reply}; refused: {refused}" if refused else reply
        return Outcome(remote_ref=str(mail["Message-ID"]), response=_without(text, password))


def _tls_context(config: Config) -> ssl.SSLContext | None:
    """The client TLS context (None: aiosmtplib's default, the system CAs)."""
    if config.security == "none" or not config.ca_file or not config.verify_tls:
        return None
    try:
        return ssl.create_default_context(cafile=config.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise PermanentFailure(f"e-mail channel: cannot read ca_file: {exc}") from None


def _failure(exc: BaseException) -> DeliveryFailure:
    """What an aiosmtplib (or socket) error means for a retry."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return PermanentFailure(
            f"SMTP server refused the credentials ({exc.code})", response=exc.message
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "SMTP server refused the recipients: " + ", ".join(
            f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients
        )
        # Every refusal temporary (greylisting, a full mailbox): worth another try.
        if codes and all(400 <= code < 500 for code in codes):
            return TransientFailure(text)
        return PermanentFailure(text)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        what = "sender" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "message"
        text = f"SMTP server refused the {what}: {exc.code} {exc.message}"
        if 400 <= exc.code < 500:
            return TransientFailure(text)
        return PermanentFailure(text)
    if isinstance(exc, ssl.SSLCertVerificationError) or (
        isinstance(exc, aiosmtplib.SMTPConnectError)
        and isinstance(exc.__cause__, ssl.SSLCertVerificationError)
    ):
        return PermanentFailure(f"SMTP server certificate does not verify: {exc}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return TransientFailure(f"SMTP server timed out: {exc}")
    if isinstance(exc, ssl.SSLError):
        return PermanentFailure(f"TLS with the SMTP server failed: {exc}")
    if isinstance(exc, ConnectionError | OSError):  # refused, reset, disconnected
        return TransientFailure(f"SMTP connection failed: {type(exc).__name__}: {exc}")
    # What is left is the session itself: no STARTTLS or AUTH offered, an unsupported
    # command. The server's setup does not change between retries.
    return PermanentFailure(f"SMTP session failed: {exc}")


def _without(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _scrub(failure: DeliveryFailure, secret: str | None) -> DeliveryFailure:
    """The same failure with the password (should a server echo it) masked."""
    if not secret:
        return failure
    text = _without(str(failure), secret)
    response = _without(failure.response, secret)
    if isinstance(failure, TransientFailure):
        return TransientFailure(text, response=response, retry_after=failure.retry_after)
    return PermanentFailure(text, response=response)
