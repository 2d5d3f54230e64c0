"""Unsubscribe link tokens: they name a customer and a campaign, and nothing else reads as one."""

import string
from uuid import uuid4

from crm.adapters.unsubscribe_links import UnsubscribeLinks

LINKS = UnsubscribeLinks(b"server secret", "https://crm.example.com/")
TOKEN_CHARACTERS = string.ascii_letters + string.digits + "-_."


def test_a_token_names_its_customer_and_campaign_under_the_public_url():
    customer, campaign = uuid4(), uuid4()
    token = LINKS.token(customer, campaign)
    assert LINKS.read(token) == (customer, campaign)
    assert LINKS.url(customer, campaign) == f"https://crm.example.com/u/{token}"
    # Check a token is the same whenever it is made (links in old messages keep working).
    assert UnsubscribeLinks(b"server secret", "https://crm.example.com").token(customer, campaign) == token


def test_every_change_of_one_character_is_refused():
    token = LINKS.token(uuid4(), uuid4())
    for place, original in enumerate(token):
        for replacement in TOKEN_CHARACTERS:
            if replacement != original:
                altered = token[:place] + replacement + token[place + 1 :]
                assert LINKS.read(altered) is None, (place, replacement)


def test_tokens_of_another_secret_truncated_or_extended_are_refused():
    customer, campaign = uuid4(), uuid4()
    token = LINKS.token(customer, campaign)
    other = UnsubscribeLinks(b"another secret", "https://crm.example.com")
    assert other.read(token) is None
    for bad in (token[:-1], token + "A", token + "=", "." + token, token.replace(".", ""), "", "a.b", "x" * 500):
        assert LINKS.read(bad) is None, bad
