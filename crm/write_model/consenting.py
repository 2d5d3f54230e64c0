"""Consent and erasure commands: unsubscribe, resubscribe, and erase a customer.

Erasure (crypto-shredding) appends `Customer.Erased`, which keeps each earlier event of the
customer's stream without its personal fields, and destroys the customer's data key in the
same transaction. The email index releases the address and puts it on the restaurant's
suppression list (the index id is the keyed hash of the address), so a later registration of
the address starts unsubscribed.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from crm.write_model.commands import Commands, Recorded
from crm.write_model.customer_emails import CustomerEmail, customer_email_id
from crm.write_model.customer_external_ids import CustomerExternalId, customer_external_id
from crm.write_model.customers import Customer, redacted_state
from crm.write_model.errors import CustomerNotFound
from crm.write_model.vocabulary import ConsentSource

_ENVELOPE = ("originator_id", "originator_version")


class ConsentCommands(Commands):
    """Commands on a customer's consent to marketing email, and their erasure."""

    _secret: bytes  # the server secret of the email index ids (set by the application)

    def unsubscribe_customer(
        self,
        customer_id: UUID,
        *,
        source: ConsentSource,
        actor: str,
        scope: UUID | None,
        campaign_id: UUID | None = None,
    ) -> Recorded:
        """Stop marketing email to a customer (already unsubscribed: a no-op); `campaign_id`: the
        campaign whose message's unsubscribe link they used."""
        return self._change_consent(
            customer_id, scope, lambda c: c.unsubscribe(source, actor, self.clock(), campaign_id)
        )

    def resubscribe_customer(
        self, customer_id: UUID, *, source: ConsentSource, actor: str, scope: UUID | None
    ) -> Recorded:
        """Take a customer's consent to marketing email again (already subscribed: a no-op)."""
        return self._change_consent(customer_id, scope, lambda c: c.resubscribe(source, actor, self.clock()))

    def erase_customer(self, customer_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Erase a customer's personal data for good (a deleted customer's too; again: a no-op).

        Their key is destroyed with the `Erased` event; ids, visits and outreach stay.
        """

        def attempt() -> Recorded:
            stored = self.recorder.select_events(customer_id)
            if not stored or not stored[0].topic == get_topic(Customer.Registered):
                raise CustomerNotFound(customer_id)
            if stored[-1].topic == get_topic(Customer.Erased):
                erased = self.mapper.to_domain_event(stored[-1])
                if scope is not None and erased.restaurant_id != scope:
                    raise CustomerNotFound(customer_id)
                return self._unchanged(customer_id, Customer)
            self.mapper.preload_keys(stored)
            events = [self.mapper.to_domain_event(s) for s in stored]
            customer = None
            for event in events:
                customer = event.mutate(customer)
            if scope is not None and customer.restaurant_id != scope:
                raise CustomerNotFound(customer_id)
            at = self.clock()
            index = self._email_index_or_none(customer.restaurant_id, customer.email)
            changed = [customer]
            if index is not None:
                index.release(customer_id, actor, at)  # unless another customer holds it now
                index.suppress(actor, at)
                changed.append(index)
            changed += self._external_id_released(customer, actor, at)
            customer.erase([_redacted(event) for event in events], actor, at)
            return self._save_recorded(customer_id, *changed, destroy_keys=[customer_id])

        return self._run(attempt, customer_id)

    # -- helpers ------------------------------------------------------------------------

    def _change_consent(self, customer_id: UUID, scope: UUID | None, change) -> Recorded:
        def attempt() -> Recorded:
            customer = self._customer(customer_id, scope)
            change(customer)
            return self._save_recorded(customer_id, customer)

        return self._run(attempt, customer_id)

    def _external_id_released(self, customer: Customer, actor: str, at) -> list[CustomerExternalId]:
        """The index of the customer's external id (if any), released by them: to save with
        their deletion or erasure, so another customer may take the id."""
        if not customer.external_id or customer.erased:
            return []
        try:
            index = self.repository.get(
                customer_external_id(self._secret, customer.restaurant_id, customer.external_id)
            )
        except AggregateNotFoundError:
            return []
        index.release(customer.id, actor, at)
        return [index]

    def _email_index_or_none(self, restaurant_id: UUID, email: str) -> CustomerEmail | None:
        try:
            return self.repository.get(customer_email_id(self._secret, restaurant_id, email))
        except AggregateNotFoundError:
            return None


def _redacted(event: Customer.Event) -> dict:
    """An event of the customer's stream as `Erased` keeps it: its stored state, personal fields
    replaced (the version and topic say where it belongs)."""
    state = {key: value for key, value in vars(event).items() if key not in _ENVELOPE}
    class_version = getattr(type(event), "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return {
        "version": event.originator_version,
        "topic": get_topic(type(event)),
        "state": redacted_state(state, getattr(type(event), "personal_fields", ())),
    }
