"""The read model: denormalised tables built by projectors, and read-only queries over them."""
