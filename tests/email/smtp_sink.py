"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, in a thread of the test process.

It keeps every message whose DATA it was offered (`offered`, refused ones included) and every message it
accepted (`accepted`). Replies can be scripted: `refuse_recipients` answers every RCPT with a reply of
your choice, `data_replies` answers the next DATA commands, one reply each, before accepting again.
"""

import email
import threading
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self) -> None:
        self.offered: list[EmailMessage] = []
        self.accepted: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.data_replies: list[str] = []
        self.refuse_recipients: str | None = None
        self.logins: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipients:
            return self.refuse_recipients
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=default)
        with self._lock:
            self.offered.append(message)
            if self.data_replies:
                return self.data_replies.pop(0)
            self.accepted.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def accepted_with(self, message_id: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.accepted if m["Message-ID"] == message_id]

    def offered_with(self, message_id: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.offered if m["Message-ID"] == message_id]

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def start_smtp(port: int, sink: Sink | None = None, **server_options) -> tuple[Controller, Sink]:
    sink = sink or Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **server_options)
    controller.start()
    return controller, sink


def self_signed_certificate(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as PEM files in `directory`: (certificate, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)
