"""The MIME message, the SMTP_URL, and the file outbox: no database, no server."""

import email
from email.policy import default

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.email.sending import (
    FileTransport, Outgoing, SmtpServer, build_message, is_valid_address, message_id_for, transport_for,
)

OUTGOING = Outgoing(email_id="0b5c7a52-1f3e-4d55-9d1c-2b9a4c0e7f11",
                    message_id="<0b5c7a52-1f3e-4d55-9d1c-2b9a4c0e7f11@mail.acme.example>",
                    to_address="dana@prospect.example", subject="Grüße from Acme", body="Hello Dana,\n\nÇa va?\n")


def settings(**values) -> Settings:
    return Settings(email_from="Acme Sales <sales@acme.example>", **values)


def test_the_message_carries_every_header_a_receiving_server_looks_at():
    message = email.message_from_bytes(build_message(OUTGOING, settings()).as_bytes(), policy=default)
    assert message["From"] == "Acme Sales <sales@acme.example>"
    assert message["To"] == "dana@prospect.example"
    assert message["Subject"] == "Grüße from Acme"
    assert message["Message-ID"] == OUTGOING.message_id
    assert message["Date"].datetime is not None
    assert message["List-Unsubscribe"] == (
        "<mailto:sales@acme.example?subject=unsubscribe+0b5c7a52-1f3e-4d55-9d1c-2b9a4c0e7f11>")
    assert message["List-Unsubscribe-Post"] is None  # one-click needs an https URL
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == OUTGOING.body


def test_an_https_unsubscribe_url_is_offered_first_and_as_one_click():
    configured = settings(email_unsubscribe_url="https://acme.example/unsubscribe/{email_id}",
                          email_unsubscribe_mailto="optout@acme.example")
    message = build_message(OUTGOING, configured)
    assert message["List-Unsubscribe"] == (
        f"<https://acme.example/unsubscribe/{OUTGOING.email_id}>, "
        f"<mailto:optout@acme.example?subject=unsubscribe+{OUTGOING.email_id}>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_plain_http_unsubscribe_url_is_not_offered_as_one_click():
    message = build_message(OUTGOING, settings(email_unsubscribe_url="http://acme.example/u"))
    assert "http://" not in message["List-Unsubscribe"] and message["List-Unsubscribe-Post"] is None


def test_message_id_is_the_email_id_at_the_configured_domain():
    assert message_id_for("abc", "mail.acme.example") == "<abc@mail.acme.example>"


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://relay.example", SmtpServer("relay.example", 25, False, False, None, None)),
    ("smtp://relay.example:2525?starttls=true", SmtpServer("relay.example", 2525, False, True, None, None)),
    ("smtps://apikey:s%40cr%3At@smtp.provider.example", SmtpServer("smtp.provider.example", 465, True, False,
                                                                     "apikey", "s@cr:t")),
    ("smtp://user@relay.example:587?starttls=TRUE", SmtpServer("relay.example", 587, False, True, "user", None)),
])
def test_smtp_url(url, expected):
    assert SmtpServer.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://relay.example", "smtp://", "smtps://relay.example?starttls=true"])
def test_a_wrong_smtp_url_is_refused_at_start_up(url):
    with pytest.raises(ValidationError, match="SMTP_URL"):
        Settings(smtp_url=url)


def test_without_smtp_url_the_file_outbox_under_the_data_dir_is_used(tmp_path):
    transport = transport_for(Settings(data_dir=tmp_path))
    assert isinstance(transport, FileTransport) and transport.directory == tmp_path / "outbox"
    assert transport_for(Settings(smtp_url="smtp://relay.example")).name == "smtp"


def test_the_file_outbox_writes_one_eml_per_message_id(tmp_path):
    transport = FileTransport(tmp_path / "outbox")
    transport.send(build_message(OUTGOING, settings()))
    transport.send(build_message(OUTGOING, settings()))  # a repeated send of the same email
    files = list((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == [f"{OUTGOING.email_id}_mail.acme.example.eml"]
    written = email.message_from_bytes(files[0].read_bytes(), policy=default)
    assert written["Message-ID"] == OUTGOING.message_id and written["List-Unsubscribe"]
    assert b"\r\n" in files[0].read_bytes()  # canonical line endings, as on the wire


@pytest.mark.parametrize(("address", "valid"), [
    ("dana@prospect.example", True), ("dana.o'neil+sales@sub.prospect.example", True),
    ("Dana <dana@prospect.example>", False), ("dana@prospect.example, eve@evil.example", False),
    ("dana@prospect.example\r\nBcc: eve@evil.example", False), ("dana", False), ("dana@localhost", False),
])
def test_only_one_plain_address_is_a_recipient(address, valid):
    assert is_valid_address(address) is valid


def test_a_long_list_unsubscribe_uri_is_sent_as_it_is_not_as_encoded_words(email_settings):
    from app.core.config import get_settings
    from app.email.sending import WIRE, Outgoing, build_message

    email_id = "3dcece8e-cdc0-44dc-b399-455a09831f68"
    outgoing = Outgoing(email_id=email_id, message_id=f"<{email_id}@mail.acme.example>", to_address="a@b.example",
                        subject="Hello", body="Hi")
    wire = build_message(outgoing, get_settings()).as_bytes(policy=WIRE).decode()
    [header] = [line for line in wire.split("\r\n") if line.startswith("List-Unsubscribe:")]
    assert "=?utf-8?" not in wire
    assert header == f"List-Unsubscribe: <mailto:sales@acme.example?subject=unsubscribe+{email_id}>"
