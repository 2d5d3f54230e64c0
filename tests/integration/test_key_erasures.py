"""An erased customer's key is forgotten by every process that remembered it (PostgreSQL NOTIFY)."""

import time

from crm import bootstrap
from crm.write_model.vocabulary import ConsentSource


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_key_destroyed_by_one_process_is_forgotten_by_another(settings, container, clock):
    app = container.application
    restaurant = app.open_restaurant("Pizza Palace", actor="admin").id
    customer = app.register_customer(restaurant, "ada@example.com", "Ada", actor="admin", scope=None).id
    other = bootstrap.build(settings, clock=clock)  # another process's wiring: its own key cache
    try:
        # Check the other side remembers the key once it has read the customer, and follows erasures.
        other.application.unsubscribe_customer(customer, source=ConsentSource.API, actor="admin", scope=None)
        assert other.event_store.keys._cache.get(customer) is not None
        assert other.key_erasures.listening.wait(5)

        app.erase_customer(customer, actor="admin", scope=None)

        assert wait_until(lambda: customer not in other.event_store.keys._cache)
        assert other.event_store.keys.get(customer) is None  # read again: destroyed
        history = other.application.customer_history(customer, scope=None)
        assert history[0]["data"]["email"] == "[erased]"
    finally:
        other.close()
