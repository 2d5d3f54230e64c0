"""SmtpBackend against a real SMTP server on loopback (aiosmtpd), including its refusals."""

import socket
import threading
import uuid
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.smtp import AuthResult

from crm.workers.delivery import OutgoingMessage, PermanentDeliveryError, SmtpBackend, TransientDeliveryError
from tests.serving import free_port
from tests.smtp_sinks import SinkController

SENDER = "crm@example.com"
PASSWORD = "correct horse battery staple"


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and refuses as it is told."""

    def __init__(self):
        self.envelopes = []
        self.logins = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        self.logins.append(session.auth_data.login if session.authenticated else None)
        return "250 Message accepted for delivery"


def only_user_with_password(server, session, envelope, mechanism, auth_data):
    valid = (auth_data.login, auth_data.password) == (b"crm", PASSWORD.encode())
    return AuthResult(success=valid, handled=False, auth_data=auth_data)  # handled=False: the server answers 535 itself


def serve(handler, **smtp_options):
    controller = SinkController(handler, **smtp_options)
    controller.start()
    return controller


@pytest.fixture
def mailbox():
    handler = Mailbox()
    controller = serve(handler)
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def backend(mailbox) -> SmtpBackend:
    return SmtpBackend(host="127.0.0.1", port=mailbox.port, from_addr=SENDER, timeout=5)


def message(to_address: str = "john.doe@example.com", **fields) -> OutgoingMessage:
    return OutgoingMessage(
        outreach_id=uuid.uuid4(),
        campaign_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        to_address=to_address,
        subject=fields.get("subject", "Café ☕ — we miss you"),
        body=fields.get("body", "Hello John,\nCafé ☕ is on us this week.\n\nPizza Palace"),
    )


def test_a_message_arrives_with_its_headers_and_body(mailbox, backend):
    sent = message()
    backend.send(sent)

    [envelope] = mailbox.envelopes
    assert mailbox.logins == [None]  # no username configured: no AUTH
    assert (envelope.mail_from, envelope.rcpt_tos) == (SENDER, ["john.doe@example.com"])
    received = message_from_bytes(envelope.original_content, policy=policy.default)
    assert received["From"] == SENDER
    assert received["To"] == "john.doe@example.com"
    assert received["Subject"] == "Café ☕ — we miss you"
    assert received["Message-ID"] == f"<{sent.outreach_id}@crm>"
    assert parsedate_to_datetime(received["Date"]).tzinfo is not None
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"
    assert received.get_content().splitlines() == sent.body.splitlines()
    # Check the message is 7-bit clean on the wire, so relays without 8BITMIME pass it on intact.
    assert envelope.original_content.isascii()


def test_a_retried_message_keeps_its_message_id(mailbox, backend):
    sent = message()
    backend.send(sent)
    backend.send(sent)
    ids = [message_from_bytes(e.original_content, policy=policy.default)["Message-ID"] for e in mailbox.envelopes]
    assert ids == [f"<{sent.outreach_id}@crm>"] * 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [("550 no such user", PermanentDeliveryError), ("451 try again later", TransientDeliveryError)],
)
def test_a_refused_recipient_maps_to_the_error_kind(mailbox, backend, reply, error):
    mailbox.rcpt_replies["ghost@example.com"] = reply
    with pytest.raises(error) as raised:
        backend.send(message("ghost@example.com"))
    assert str(raised.value) == f"recipient refused: SMTP {reply}"
    assert mailbox.envelopes == []


def test_an_address_echoed_by_the_server_is_left_out_of_the_error(mailbox, backend):
    mailbox.rcpt_replies["ghost@example.com"] = "550 5.1.1 <ghost@example.com>: Recipient address rejected"
    with pytest.raises(PermanentDeliveryError) as raised:
        backend.send(message("ghost@example.com"))
    assert "ghost" not in str(raised.value)
    assert "Recipient address rejected" in str(raised.value)


@pytest.mark.parametrize(
    ("reply", "error"),
    [("554 message looks like spam", PermanentDeliveryError), ("452 mailbox full", TransientDeliveryError)],
)
def test_a_refused_message_maps_to_the_error_kind(mailbox, backend, reply, error):
    mailbox.data_reply = reply
    with pytest.raises(error, match=f"message refused: SMTP {reply}"):
        backend.send(message())


def test_an_invalid_recipient_address_fails_permanently_without_connecting(mailbox, backend):
    for address in ("not-an-address", "john@example.com\r\nBcc: all@example.com", "@example.com"):
        with pytest.raises(PermanentDeliveryError, match="^invalid recipient address$"):
            backend.send(message(address))
    assert mailbox.envelopes == []


def test_a_closed_port_fails_transiently():
    backend = SmtpBackend(host="127.0.0.1", port=free_port(), from_addr=SENDER, timeout=5)
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        backend.send(message())


def test_a_server_that_never_answers_times_out_transiently():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts the connection; nobody ever sends a greeting
        backend = SmtpBackend(host="127.0.0.1", port=silent.getsockname()[1], from_addr=SENDER, timeout=0.2)
        with pytest.raises(TransientDeliveryError, match="timed out"):
            backend.send(message())


def test_a_server_that_hangs_up_fails_transiently():
    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen()

        def hang_up():
            connection, _ = rude.accept()
            connection.close()

        threading.Thread(target=hang_up, daemon=True).start()
        backend = SmtpBackend(host="127.0.0.1", port=rude.getsockname()[1], from_addr=SENDER, timeout=5)
        with pytest.raises(TransientDeliveryError, match="disconnected"):
            backend.send(message())


def test_starttls_against_a_server_without_it_fails_permanently(mailbox):
    backend = SmtpBackend(host="127.0.0.1", port=mailbox.port, from_addr=SENDER, starttls=True, timeout=5)
    with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        backend.send(message())
    assert mailbox.envelopes == []


@pytest.fixture
def guarded_mailbox():
    handler = Mailbox()
    controller = serve(handler, authenticator=only_user_with_password, auth_require_tls=False)
    handler.port = controller.port
    yield handler
    controller.stop()


def test_login_with_the_right_password_delivers(guarded_mailbox):
    backend = SmtpBackend(
        host="127.0.0.1", port=guarded_mailbox.port, from_addr=SENDER, username="crm", password=PASSWORD, timeout=5
    )
    backend.send(message())
    assert guarded_mailbox.logins == [b"crm"]


def test_a_wrong_password_fails_permanently_and_is_not_in_the_error(guarded_mailbox):
    backend = SmtpBackend(
        host="127.0.0.1", port=guarded_mailbox.port, from_addr=SENDER, username="crm", password="wrong-pw", timeout=5
    )
    with pytest.raises(PermanentDeliveryError, match="login failed: SMTP 535") as raised:
        backend.send(message())
    assert "wrong-pw" not in str(raised.value)
    assert guarded_mailbox.envelopes == []
