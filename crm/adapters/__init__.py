"""Infrastructure behind the write model's ports: the event store, the personal-data keys and
mapper, the API-key and operator stores, and the one MetaData every table is defined on."""
