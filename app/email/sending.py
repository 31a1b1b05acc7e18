"""The message and the wire: building the MIME message, and the transports that hand it over.

- `SmtpTransport` when `SMTP_URL` is set: `smtp://user:password@host:port` (plain, or upgraded with
  `?starttls=true`), `smtps://…` for implicit TLS (port 465 by default).
- `FileTransport` otherwise: one `.eml` file per Message-ID under `EMAIL_OUTBOX_DIR`, for development;
  writing the same Message-ID again replaces the file, so a repeated send is still one file.

The SMTP client is the standard library's `smtplib`: the worker is synchronous (Celery prefork), one
message per task, so an asyncio client would only add an event loop per send; smtplib speaks STARTTLS,
implicit TLS, AUTH and SMTPUTF8, and its exceptions carry the server's reply code, which is what tells a
transient refusal (4xx, a lost connection) from a permanent one (5xx).
"""

import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from email_validator import EmailNotValidError, validate_email

from app.core.config import Settings


class SendError(Exception):
    """The message was not accepted."""


class TransientSendError(SendError):
    """Worth another attempt later: a 4xx reply, a refused or lost connection, a timeout."""


class PermanentSendError(SendError):
    """A 5xx reply: sending the same message again would be refused again."""


@dataclass(frozen=True)
class Outgoing:
    """What an email log row says to send."""

    email_id: str
    message_id: str
    to_address: str
    subject: str
    body: str


# Header lines folded only past RFC 5322's limit of 998: folded at the default 78, a long
# List-Unsubscribe URI (one word, no spaces) is turned into RFC 2047 encoded words, which mail clients do
# not read as a URI. WIRE is the same with SMTP's CRLF, for the file outbox (smtplib adds CRLF itself).
HEADERS = default.clone(max_line_length=998)
WIRE = SMTP.clone(max_line_length=998)


def build_message(outgoing: Outgoing, settings: Settings, *, date: datetime | None = None) -> EmailMessage:
    """The MIME message: plain text, UTF-8, with the headers bulk senders must carry (RFC 2369 and
    RFC 8058 unsubscribe, so that mailbox providers offer the recipient a one-click way out)."""
    message = EmailMessage(policy=HEADERS)
    message["From"] = settings.email_from
    message["To"] = outgoing.to_address
    message["Subject"] = outgoing.subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = outgoing.message_id
    message["List-Unsubscribe"] = ", ".join(f"<{uri}>" for uri in unsubscribe_uris(outgoing, settings))
    if one_click_url(outgoing, settings):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(outgoing.body)
    return message


def unsubscribe_uris(outgoing: Outgoing, settings: Settings) -> list[str]:
    """The https URL (if configured) first, as RFC 8058 clients prefer it, then a mailto."""
    mailbox = settings.email_unsubscribe_mailto or sender_address(settings)
    mailto = f"mailto:{mailbox}?" + urlencode({"subject": f"unsubscribe {outgoing.email_id}"})
    url = one_click_url(outgoing, settings)
    return [url, mailto] if url else [mailto]


def one_click_url(outgoing: Outgoing, settings: Settings) -> str | None:
    """RFC 8058 one-click needs an https URL; a plain-http one is not offered as one-click."""
    url = settings.email_unsubscribe_url
    if not url or not url.lower().startswith("https://"):
        return None
    return url.replace("{email_id}", outgoing.email_id)


def sender_address(settings: Settings) -> str:
    """The addr-spec of EMAIL_FROM: the envelope sender, where bounces go."""
    return parseaddr(settings.email_from)[1]


def message_id_for(email_id: str, domain: str) -> str:
    return f"<{email_id}@{domain}>"


class Transport(Protocol):
    name: str

    def send(self, message: EmailMessage) -> None:
        """Hand the message over; raise TransientSendError or PermanentSendError when it is not accepted."""


def transport_for(settings: Settings) -> "Transport":
    if settings.smtp_url is not None:
        return SmtpTransport(SmtpServer.from_url(settings.smtp_url.get_secret_value()), settings.smtp_timeout_seconds,
                             envelope_from=sender_address(settings))
    return FileTransport(settings.email_outbox_dir or settings.data_dir / "outbox")


# --- SMTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:password@host:port or smtps://host:port")
        implicit_tls = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", ["false"])[-1].lower() == "true"
        if implicit_tls and starttls:
            raise ValueError("SMTP_URL: smtps:// is already TLS; starttls applies to smtp:// only")
        return cls(host=parts.hostname, port=parts.port or (465 if implicit_tls else 25), implicit_tls=implicit_tls,
                   starttls=starttls, username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)


class SmtpTransport:
    name = "smtp"

    def __init__(self, server: SmtpServer, timeout: float, *, envelope_from: str):
        self.server, self.timeout, self.envelope_from = server, timeout, envelope_from

    def send(self, message: EmailMessage) -> None:
        try:
            client = self._connect()
            try:
                if self.server.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.server.username:
                    client.login(self.server.username, self.server.password or "")
                client.send_message(message, from_addr=self.envelope_from, to_addrs=[str(message["To"])])
            finally:
                _quit(client)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _by_code(*next(iter(exc.recipients.values()))) from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # No reply code: the connection was refused, lost or timed out, TLS failed, the server does
            # not offer STARTTLS. None of it is a property of this message: try again later.
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        if self.server.implicit_tls:
            return smtplib.SMTP_SSL(self.server.host, self.server.port, timeout=self.timeout,
                                    context=ssl.create_default_context())
        return smtplib.SMTP(self.server.host, self.server.port, timeout=self.timeout)


def _quit(client: smtplib.SMTP) -> None:
    """Once the message is accepted, how the conversation ends changes nothing."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _by_code(code: int, reply: bytes | str) -> SendError:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    detail = f"SMTP {code}: {text}"
    return PermanentSendError(detail) if 500 <= code < 600 else TransientSendError(detail)


# --- the file outbox (development) ------------------------------------------------------------


class FileTransport:
    name = "file"

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def path_for(self, message_id: str) -> Path:
        local, _, domain = message_id.strip("<>").partition("@")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{local}@{domain}")
        return self.directory / f"{safe}.eml"

    def send(self, message: EmailMessage) -> None:
        """Written to a temporary file and renamed over the final one: a reader never sees half a
        message, and the same Message-ID written twice is still one file."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self.path_for(message["Message-ID"])
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(message.as_bytes(policy=WIRE))
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a full disk or a missing mount may pass; try again later
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc


def is_valid_address(address: str) -> bool:
    """One plain addr-spec: nothing that could smuggle a display name, a second recipient or a header."""
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True
