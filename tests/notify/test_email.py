"""The e-mail channel against a real SMTP server (aiosmtpd on 127.0.0.1): plain, AUTH,
STARTTLS with a self-signed certificate, refusals and unreachable servers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from loom.notify.channels.base import PermanentFailure, Target, TransientFailure
from loom.notify.channels.email import Config, EmailSender
from loom.notify.message import IncidentMessage, NotifyEvent

PASSWORD = "s3cret-smtp-pw"
OPENED = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool


@dataclass
class Recorder:
    """aiosmtpd handler: keeps every accepted mail; `data_reply`/`rcpt_reply` inject faults."""

    received: list[Received] = field(default_factory=list)
    data_reply: str = "250 Message accepted for delivery"
    rcpt_reply: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if not self.data_reply.startswith("250"):
            return self.data_reply
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        mail_from = envelope.mail_from or ""
        self.received.append(
            Received(mail_from, list(envelope.rcpt_tos), parsed, bool(session.ssl))
        )
        return self.data_reply


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"loom",
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Recorder]]:
    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    yield controller, recorder
    controller.stop()


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loom test smtp")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def incident(**changes: Any) -> IncidentMessage:
    values: dict[str, Any] = {
        "event": NotifyEvent.OPENED,
        "incident_id": "0f3c",
        "ref": "INC-42",
        "title": "orders-db: PostgresDown <script>alert(1)</script>",
        "status": "triggered",
        "severity": "critical",
        "opened_at": OPENED,
        "at": OPENED + dt.timedelta(minutes=12),
        "url": "https://loom.example.com/incidents/0f3c",
        "services": ("orders-db", "orders"),
        "alert_count": 3,
        "firing_count": 2,
        "root_cause": "orders-db",
        "root_cause_reason": "first to fire & most alerts",
    }
    values.update(changes)
    return IncidentMessage(**values)


def target(port: int, previous: str | None = None, **config: Any) -> Target:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "loom@example.com",
        "recipients": ["oncall@example.com", "sre@example.com"],
        "timeout_seconds": 5,
    }
    settings.update(config)
    secrets = {"password": settings.pop("password")} if "password" in settings else {}
    return Target("email", settings, secrets, previous)


async def test_mail_has_both_parts_escaped_html_and_envelope(
    smtp: tuple[Controller, Recorder], http: httpx.AsyncClient
) -> None:
    controller, recorder = smtp
    outcome = await EmailSender().send(target(controller.port), incident(), http=http)

    [got] = recorder.received
    assert got.mail_from == "loom@example.com"
    assert got.rcpt_tos == ["oncall@example.com", "sre@example.com"]
    mail = got.message
    assert mail["Subject"] == "[CRITICAL] INC-42 orders-db: PostgresDown <script>alert(1)</script>"
    assert mail["X-Loom-Incident"] == "INC-42"
    assert mail["Message-ID"] == outcome.remote_ref
    assert outcome.remote_ref and outcome.remote_ref.endswith("@example.com>")
    assert mail["In-Reply-To"] is None
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = plain.get_content(), html.get_content()
    assert "<script>alert(1)</script>" in text
    assert "Probable root cause: orders-db (first to fire & most alerts)" in text
    assert "https://loom.example.com/incidents/0f3c" in text
    assert "<script>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "first to fire &amp; most alerts" in markup
    assert '<a href="https://loom.example.com/incidents/0f3c">' in markup
    assert outcome.response == "Message accepted for delivery"


async def test_update_threads_on_the_first_mail(
    smtp: tuple[Controller, Recorder], http: httpx.AsyncClient
) -> None:
    controller, recorder = smtp
    sender = EmailSender()
    first = await sender.send(target(controller.port), incident(), http=http)
    resolved = incident(event=NotifyEvent.RESOLVED, status="resolved", actor="ann@example.com")
    second = await sender.send(target(controller.port, first.remote_ref), resolved, http=http)

    mail = recorder.received[1].message
    assert mail["In-Reply-To"] == first.remote_ref
    assert mail["References"] == first.remote_ref
    assert second.remote_ref != first.remote_ref
    assert mail["Subject"].endswith("— resolved")
    body = mail.get_body(("plain",))
    assert body is not None and "By: ann@example.com" in body.get_content()


async def test_title_with_line_breaks_cannot_inject_headers(
    smtp: tuple[Controller, Recorder], http: httpx.AsyncClient
) -> None:
    controller, recorder = smtp
    title = "disk full\r\nBcc: victim@example.org"
    await EmailSender().send(target(controller.port), incident(title=title), http=http)

    mail = recorder.received[0].message
    assert mail["Bcc"] is None
    assert mail["Subject"] == "[CRITICAL] INC-42 disk full Bcc: victim@example.org"
    assert recorder.received[0].rcpt_tos == ["oncall@example.com", "sre@example.com"]


async def test_auth_with_the_right_password_sends(
    smtp: tuple[Controller, Recorder], http: httpx.AsyncClient
) -> None:
    controller, recorder = smtp
    settings = target(controller.port, username="loom", password=PASSWORD)
    await EmailSender().send(settings, incident(), http=http)
    assert len(recorder.received) == 1


async def test_wrong_password_is_permanent_and_never_shown(
    smtp: tuple[Controller, Recorder], http: httpx.AsyncClient
) -> None:
    controller, recorder = smtp
    wrong = "wrong-" + PASSWORD
    settings = target(controller.port, username="loom", password=wrong)
    with pytest.raises(PermanentFailure) as caught:
        await EmailSender().send(settings, incident(), http=http)
    assert "535" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in caught.value.response
    assert recorder.received == []


async def test_starttls_with_a_self_signed_certificate(
    cert: tuple[Path, Path], http: httpx.AsyncClient
) -> None:
    cert_file, key_file = cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        settings = target(
            controller.port,
            security="starttls",
            ca_file=str(cert_file),
            username="loom",
            password=PASSWORD,
        )
        await EmailSender().send(settings, incident(), http=http)
        assert len(recorder.received) == 1 and recorder.received[0].tls

        # The same server without its CA: the certificate does not verify, no retry helps.
        untrusted = target(controller.port, security="starttls")
        with pytest.raises(PermanentFailure, match="certificate"):
            await EmailSender().send(untrusted, incident(), http=http)
        assert len(recorder.received) == 1
    finally:
        controller.stop()


async def test_starttls_never_downgrades_to_plain_text(
    smtp: tuple[Controller, Recorder], tmp_path: Path, http: httpx.AsyncClient
) -> None:
    controller, recorder = smtp  # a server without STARTTLS
    settings = target(controller.port, security="starttls", username="loom", password=PASSWORD)
    with pytest.raises(PermanentFailure, match="STARTTLS"):
        await EmailSender().send(settings, incident(), http=http)

    missing = target(controller.port, security="starttls", ca_file=str(tmp_path / "nope.pem"))
    with pytest.raises(PermanentFailure, match="ca_file"):
        await EmailSender().send(missing, incident(), http=http)
    assert recorder.received == []


async def test_refused_recipients_are_permanent_and_4xx_transient(
    smtp: tuple[Controller, Recorder], http: httpx.AsyncClient
) -> None:
    controller, recorder = smtp
    recorder.rcpt_reply = "550 5.1.1 No such user"
    with pytest.raises(PermanentFailure, match="550"):
        await EmailSender().send(target(controller.port), incident(), http=http)

    recorder.rcpt_reply = "450 4.2.0 Greylisted, try again later"
    with pytest.raises(TransientFailure, match="450"):
        await EmailSender().send(target(controller.port), incident(), http=http)


async def test_data_replies_4xx_transient_5xx_permanent(
    smtp: tuple[Controller, Recorder], http: httpx.AsyncClient
) -> None:
    controller, recorder = smtp
    recorder.data_reply = "451 4.3.0 Queue full"
    with pytest.raises(TransientFailure, match="451"):
        await EmailSender().send(target(controller.port), incident(), http=http)

    recorder.data_reply = "554 5.7.1 Message rejected as spam"
    with pytest.raises(PermanentFailure, match="554"):
        await EmailSender().send(target(controller.port), incident(), http=http)
    assert recorder.received == []


async def test_connection_refused_is_transient(http: httpx.AsyncClient) -> None:
    settings = target(free_port(), username="loom", password=PASSWORD)
    with pytest.raises(TransientFailure) as caught:
        await EmailSender().send(settings, incident(), http=http)
    assert PASSWORD not in str(caught.value)


def test_config_validates_addresses_and_defaults() -> None:
    config = Config.model_validate(
        {"host": "smtp.example.com", "sender": "loom@example.com", "recipients": ["a@example.com"]}
    )
    assert (config.port, config.security, config.timeout_seconds) == (587, "starttls", 10)
    for bad in (
        {"recipients": []},
        {"recipients": ["not-an-address"]},
        {"recipients": ["a@example.com\r\nBcc: x@example.org"]},
        {"sender": "Loom <loom@example.com>"},
        {"security": "ssl"},
    ):
        with pytest.raises(ValidationError):
            Config.model_validate(
                {
                    "host": "smtp.example.com",
                    "sender": "loom@example.com",
                    "recipients": ["a@example.com"],
                    **bad,
                }
            )
