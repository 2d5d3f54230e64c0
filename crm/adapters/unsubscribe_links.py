"""Unsubscribe links (RFC 8058): a signed token naming a customer and a campaign, no personal data.

The token is `<ids>.<mac>`: both unpadded base64url, the ids the customer's and the campaign's
UUID bytes, the MAC an HMAC-SHA256 (truncated to 128 bits) with a key derived from the server
secret. It does not expire: a link in an old message must keep working. Only the canonical
spelling is accepted, so no character of a token can change without the token being refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from uuid import UUID

_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _b64(data) == text else None  # the canonical spelling only


class UnsubscribeLinks:
    """Makes and checks the tokens of unsubscribe links under `base_url`."""

    def __init__(self, secret: bytes, base_url: str):
        self._key = hmac.new(secret, b"crm-unsubscribe-link", hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")

    def _mac(self, ids: bytes) -> bytes:
        return hmac.new(self._key, ids, hashlib.sha256).digest()[:_MAC_BYTES]

    def token(self, customer_id: UUID, campaign_id: UUID) -> str:
        ids = customer_id.bytes + campaign_id.bytes
        return f"{_b64(ids)}.{_b64(self._mac(ids))}"

    def url(self, customer_id: UUID, campaign_id: UUID) -> str:
        return f"{self.base_url}/u/{self.token(customer_id, campaign_id)}"

    def read(self, token: str) -> tuple[UUID, UUID] | None:
        """The (customer id, campaign id) a genuine token names; None for anything else."""
        if not isinstance(token, str) or len(token) > 100 or token.count(".") != 1:
            return None
        ids_text, mac_text = token.split(".")
        ids, mac = _unb64(ids_text), _unb64(mac_text)
        if ids is None or mac is None or len(ids) != 32 or not hmac.compare_digest(mac, self._mac(ids)):
            return None
        return UUID(bytes=ids[:16]), UUID(bytes=ids[16:])
