"""Databases a test makes for itself on the test server, and drops."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm.config import Settings


@contextmanager
def database_of_its_own(database_url: str, prefix: str, *, own_role: bool = False):
    """Settings for a new, empty database (owned by a new role of the same name, with
    `own_role`) and an AUTOCOMMIT engine of the admin's; both dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if own_role:
            conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' OWNER "{name}"' if own_role else "")))
    url = make_url(database_url).set(database=name)
    if own_role:
        url = url.set(username=name, password=None)
    settings = Settings(database_url=url.render_as_string(hide_password=False), secret_key="test-secret")
    try:
        yield settings, admin
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if own_role:
                conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()
