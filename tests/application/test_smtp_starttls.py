"""SMTP_STARTTLS checks the server's certificate: a relay offering STARTTLS with a certificate no
trusted authority signed is refused (the message is not handed to it), one we trust is used."""

from __future__ import annotations

import ssl
import subprocess
import uuid

import pytest

from crm.workers.delivery import OutgoingMessage, SmtpBackend, TransientDeliveryError
from tests.integration.workers import Mailbox
from tests.smtp_sinks import SinkController


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_relay(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = SinkController(mailbox, tls_context=context, require_starttls=True)
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


def message() -> OutgoingMessage:
    return OutgoingMessage(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "guest@example.com", "Hello", "Hi there")


def test_a_relay_whose_certificate_is_not_trusted_gets_nothing(tls_relay):
    backend = SmtpBackend(host="127.0.0.1", port=tls_relay.port, from_addr="crm@example.com", starttls=True)

    with pytest.raises(TransientDeliveryError, match="unreachable"):
        backend.send(message())

    assert tls_relay.messages == []


def test_a_trusted_relay_gets_the_message_over_tls(tls_relay, certificate, monkeypatch):
    cert, _ = certificate
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: trusting)
    backend = SmtpBackend(host="127.0.0.1", port=tls_relay.port, from_addr="crm@example.com", starttls=True)

    backend.send(message())

    assert [str(m["To"]) for m in tls_relay.messages] == ["guest@example.com"]
