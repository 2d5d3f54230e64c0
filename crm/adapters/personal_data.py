"""Personal data in an immutable log: the mapper that encrypts the events (and snapshots) of
aggregates marked `personal_data` with their customer's own key (kept outside the log:
`customer_keys`), and reads an erased customer's events in their redacted form.

Destroying a customer's key makes their personal data in the log unreadable for good.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from crm.adapters.customer_keys import NONCE_BYTES, KeyStore
from crm.adapters.log_reads import as_uuid
from crm.write_model.errors import PersonalDataGone

ERASED_TOPIC_SUFFIX = ":Customer.Erased"  # the event that holds an erased stream's redacted forms
ENCRYPTED = b"\x01"  # first byte of an encrypted state; plain JSON states begin with '{'


class PersonalDataErased(PersonalDataGone):
    """The key of this aggregate no longer exists: its personal data cannot be read."""

    def __init__(self, originator_id: UUID):
        super().__init__(f"the personal data of {originator_id} has been erased")
        self.originator_id = originator_id


def _is_personal(domain_event: object) -> bool:
    return bool(getattr(type(domain_event), "personal_data", False))


class PersonalDataMapper(Mapper):
    """A mapper that encrypts the state of personal events with the originator's own key.

    An event of an erased stream is read in its redacted form, kept by the stream's `Erased`
    event (an event with `redacted`): found by reading the stream's newest event when its key
    is gone, or noted beforehand (`note_erasures`) when a stretch of the log holding it is read.
    """

    _MAX_ERASED = 1000

    def __init__(self, transcoder: Transcoder, keys: KeyStore):
        super().__init__(transcoder)
        self.keys = keys
        self.recorder = None  # set by the wiring: reads a stream's newest event
        self._erased: OrderedDict[UUID, dict[int, StoredEvent]] = OrderedDict()
        self._erased_lock = threading.Lock()
        self._ahead: dict[int, tuple[object, StoredEvent]] = {}

    def encode_ahead(self, domain_events: Iterable) -> None:
        """Encode (and encrypt) these events now, so that their save takes the stored forms
        ready: an import's process does it while another process saves the batch before. Only
        the last call's are kept; an event saved later without being encoded ahead is encoded
        then."""
        self._ahead = {id(event): (event, self.to_stored_event(event)) for event in domain_events}

    def note_erasures(self, stored_events: Iterable[StoredEvent]) -> None:
        """Remember the redacted forms held by the `Erased` events among these, so that the
        streams they erase read redacted even where the key is still remembered."""
        for stored in stored_events:
            if stored.topic.endswith(ERASED_TOPIC_SUFFIX) and stored.state[:1] != ENCRYPTED:
                self._remember_erasure(as_uuid(stored.originator_id), super().to_domain_event(stored))

    def _remember_erasure(self, originator_id: UUID, erased) -> dict[int, StoredEvent]:
        forms = {
            form["version"]: StoredEvent(
                originator_id=originator_id,
                originator_version=form["version"],
                topic=form["topic"],
                state=self.transcoder.encode(form["state"]),
            )
            for form in erased.redacted
        }
        with self._erased_lock:
            self._erased[originator_id] = forms
            while len(self._erased) > self._MAX_ERASED:
                self._erased.popitem(last=False)
        return forms

    def _erased_form(self, stored_event: StoredEvent, known_only: bool) -> StoredEvent | None:
        originator_id = as_uuid(stored_event.originator_id)
        with self._erased_lock:
            forms = self._erased.get(originator_id)
        if forms is None and not known_only and self.recorder is not None:
            newest = self.recorder.select_events(originator_id, desc=True, limit=1)
            if newest and newest[0].topic.endswith(ERASED_TOPIC_SUFFIX) and newest[0].state[:1] != ENCRYPTED:
                forms = self._remember_erasure(originator_id, super().to_domain_event(newest[0]))
        return None if forms is None else forms.get(stored_event.originator_version)

    def to_stored_event(self, domain_event) -> StoredEvent:
        ahead = self._ahead.pop(id(domain_event), None) if self._ahead else None
        if ahead is not None and ahead[0] is domain_event:  # the event itself, kept alive meanwhile
            return ahead[1]
        stored = super().to_stored_event(domain_event)
        if not _is_personal(domain_event):
            return stored
        key = self.keys.for_writing(as_uuid(stored.originator_id))
        if key is None:
            raise PersonalDataErased(stored.originator_id)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, stored.state, _associated_data(stored))
        return StoredEvent(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=ENCRYPTED + nonce + ciphertext,
        )

    def preload_keys(self, stored_events: Iterable[StoredEvent]) -> None:
        """Fetch in one go the keys that decoding these events will need."""
        self.keys.preload({as_uuid(e.originator_id) for e in stored_events if e.state[:1] == ENCRYPTED})

    def to_domain_event(self, stored_event: StoredEvent):
        if stored_event.state[:1] == ENCRYPTED:
            redacted = self._erased_form(stored_event, known_only=True) if self._erased else None
            if redacted is not None:
                stored_event = redacted
            else:
                try:
                    stored_event = self.decrypt(stored_event)
                except PersonalDataErased:
                    redacted = self._erased_form(stored_event, known_only=False)
                    if redacted is None:
                        raise
                    stored_event = redacted
        return super().to_domain_event(stored_event)

    def decrypt(self, stored_event: StoredEvent) -> StoredEvent:
        originator_id = as_uuid(stored_event.originator_id)
        key = self.keys.get(originator_id)
        if key is None:
            raise PersonalDataErased(originator_id)
        body = stored_event.state[1:]
        try:
            plain = AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _associated_data(stored_event))
        except InvalidTag:  # defensive: a key remembered here that is not the stored one
            key = self.keys.refresh(originator_id)
            if key is None:
                raise PersonalDataErased(originator_id) from None
            plain = AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _associated_data(stored_event))
        return StoredEvent(
            originator_id=stored_event.originator_id,
            originator_version=stored_event.originator_version,
            topic=stored_event.topic,
            state=plain,
        )


def _associated_data(stored_event: StoredEvent) -> bytes:
    # Binds each ciphertext to its place in the log, so it cannot be moved to another event.
    return f"{stored_event.originator_id}:{stored_event.originator_version}:{stored_event.topic}".encode()
