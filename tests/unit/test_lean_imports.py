"""SQLAlchemy-Utils' package initialisers run only when something uses them (`crm.lean_imports`)."""

import ast
import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_event_store_loads_only_the_one_type_it_needs():
    out = _run(
        """
        import sys
        import crm.adapters.event_store
        print(sorted(m for m in sys.modules if m.startswith("sqlalchemy_utils")))
        """
    )
    loaded = ast.literal_eval(out)
    assert "sqlalchemy_utils.types.uuid" in loaded  # eventsourcing-sqlalchemy's models use it
    assert loaded == [
        "sqlalchemy_utils",
        "sqlalchemy_utils.types",
        "sqlalchemy_utils.types.scalar_coercible",
        "sqlalchemy_utils.types.uuid",
    ]


def test_the_rest_of_the_library_is_there_for_whoever_asks():
    out = _run(
        """
        import crm.adapters.event_store
        import sqlalchemy_utils
        from sqlalchemy_utils import database_exists
        from sqlalchemy_utils.types import PhoneNumberType
        from sqlalchemy_utils.types.uuid import UUIDType
        print(callable(database_exists), PhoneNumberType.__name__, UUIDType is sqlalchemy_utils.UUIDType)
        """
    )
    assert out.split() == ["True", "PhoneNumberType", "True"]


def test_a_version_check_or_a_star_import_runs_the_initialiser():
    out = _run(
        """
        import crm.adapters.event_store
        import sqlalchemy_utils
        print(bool(sqlalchemy_utils.__version__))
        namespace = {}
        exec("from sqlalchemy_utils.types import *", namespace)
        print("PhoneNumberType" in namespace)
        """
    )
    assert out.split() == ["True", "True"]
