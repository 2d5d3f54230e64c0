"""The write model's name-based ids are exactly `uuid.uuid5`'s."""

import uuid

from crm.write_model.stable_ids import uuid5


def test_uuid5_is_the_standard_librarys():
    namespaces = [uuid.NAMESPACE_URL, uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), *(uuid.uuid4() for _ in range(20))]
    names = ["", "a", "guest1@example.com", "ünïcødé ✓", "x" * 1000, "customer:12345", "\x00\n"]
    for namespace in namespaces:
        for name in names:
            made = uuid5(namespace, name)
            assert made == uuid.uuid5(namespace, name)
            assert str(made) == str(uuid.uuid5(namespace, name))
            assert made.version == 5 and made.variant == uuid.RFC_4122
