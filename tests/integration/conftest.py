import pytest


@pytest.fixture(autouse=True)
def _integration_needs_postgres(on_postgres):
    """The integration tier runs against PostgreSQL (CI fails rather than skips without it)."""
