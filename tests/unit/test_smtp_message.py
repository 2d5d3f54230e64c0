"""What the SMTP backend would send, and what it records when a server refuses, without a server:
the message it composes (headers, the one-click unsubscribe of RFC 8058, the body), the addresses
it refuses to try, and the error kinds and texts of SMTP replies."""

import uuid
from email import message_from_bytes, policy

import pytest

from crm.workers.delivery import (
    OutgoingMessage,
    PermanentDeliveryError,
    SmtpBackend,
    TransientDeliveryError,
    _reason,
    _smtp_error,
)

BACKEND = SmtpBackend(host="mail.example.com", port=587, from_addr="crm@example.com")


def message(to_address: str = "john.doe@example.com", **fields) -> OutgoingMessage:
    return OutgoingMessage(
        outreach_id=uuid.UUID(int=7),
        campaign_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        to_address=to_address,
        subject=fields.get("subject", "Café ☕ — we miss you"),
        body=fields.get("body", "Hello John,\nCafé ☕ is on us this week."),
        unsubscribe_url=fields.get("unsubscribe_url", "https://crm.example.com/u/abc.def"),
    )


def test_a_message_has_its_headers_the_one_click_unsubscribe_and_its_body():
    composed = BACKEND._compose(message())
    # Check what a server would read: the message as bytes, parsed again.
    received = message_from_bytes(composed.as_bytes(), policy=policy.default)
    assert (received["From"], received["To"], received["Subject"]) == (
        "crm@example.com",
        "john.doe@example.com",
        "Café ☕ — we miss you",
    )
    assert received["Message-ID"] == f"<{uuid.UUID(int=7)}@crm>" and received["Date"]
    assert received["List-Unsubscribe"] == "<https://crm.example.com/u/abc.def>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.get_content() == "Hello John,\nCafé ☕ is on us this week.\n"
    assert received.get_content_charset() == "utf-8" and received["Content-Transfer-Encoding"] == "quoted-printable"


def test_without_an_unsubscribe_link_there_is_no_unsubscribe_header():
    composed = BACKEND._compose(message(unsubscribe_url=None))
    assert composed["List-Unsubscribe"] is None and composed["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize("address", ["john", "john@", '""@example.com', "@example.com", "x@@y"])
def test_an_address_without_a_local_part_or_a_domain_is_refused_without_echoing_it(address):
    with pytest.raises(PermanentDeliveryError) as refused:
        BACKEND._compose(message(address))
    assert str(refused.value) == "invalid recipient address"


def test_a_message_that_cannot_be_composed_fails_permanently_saying_why():
    with pytest.raises(PermanentDeliveryError) as refused:
        BACKEND._compose(message(subject="Hello\nBcc: everyone@example.com"))
    assert str(refused.value) == "invalid message: Header values may not contain linefeed or carriage return characters"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (421, TransientDeliveryError),
        (499, TransientDeliveryError),
        (500, PermanentDeliveryError),
        (550, PermanentDeliveryError),
        (599, PermanentDeliveryError),
        (600, TransientDeliveryError),
    ],
)
def test_a_5xx_reply_is_permanent_and_any_other_transient(code, kind):
    error = _smtp_error("recipient refused", code, b"mailbox unavailable")
    assert type(error) is kind
    assert str(error) == f"recipient refused: SMTP {code} mailbox unavailable"


def test_a_reply_that_is_not_utf8_is_read_with_replacement_characters():
    error = _smtp_error("message refused", 554, b"rejected \xff\xfe")
    assert str(error) == "message refused: SMTP 554 rejected \ufffd\ufffd"


def test_a_reason_is_one_line_without_addresses_and_at_most_200_characters():
    assert _reason("550  no such\n user  ann@example.com") == "550 no such user <address>"
    assert _reason("x" * 200) == "x" * 200
    assert _reason("x" * 201) == "x" * 199 + "…"
