import pytest

from crm.config import ConfigError, Settings


def test_defaults_are_the_embedded_setup(tmp_path):
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path}/crm.sqlite3"})
    assert settings.is_sqlite and settings.projection_mode == "inline" and settings.port == 8000


def test_without_secret_key_sqlite_keeps_a_random_secret_beside_the_database(tmp_path):
    environ = {"DATABASE_URL": f"sqlite:///{tmp_path}/crm.sqlite3"}
    first = Settings.from_env(environ)
    assert len(first.secret_key) >= 48 and not first.uses_default_secret
    assert (tmp_path / "secret-key").stat().st_mode & 0o777 == 0o600
    assert Settings.from_env(environ).secret_key == first.secret_key
    assert Settings.from_env({**environ, "SECRET_KEY": "explicit"}).secret_key == "explicit"


def test_background_projection_settings():
    settings = Settings.from_env(
        {
            "SECRET_KEY": "s",
            "PROJECTION_MODE": "Background",
            "READ_YOUR_WRITES_TIMEOUT": "0.5",
            "EVENT_STORE_LOCK_TIMEOUT": "2",
            "PROJECTOR_POLL_SECONDS": "0.05",
        }
    )
    assert settings.projection_mode == "background"
    assert (settings.read_your_writes_timeout, settings.event_store_lock_timeout) == (0.5, 2.0)
    assert settings.projector_poll_seconds == 0.05
    defaults = Settings.from_env({"SECRET_KEY": "s"})
    assert (defaults.read_your_writes_timeout, defaults.event_store_lock_timeout) == (5.0, 5.0)


def test_postgresql_requires_an_explicit_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"DATABASE_URL": "postgresql+psycopg2://localhost/crm"})


@pytest.mark.parametrize(
    "environ",
    [
        {"LOG_LEVEL": "chatty"},
        {"PROJECTION_MODE": "sometimes"},
        {"PORT": "eighty"},
        {"DATABASE_URL": "mysql://localhost/crm"},
        {"READ_YOUR_WRITES_TIMEOUT": "-1"},
        {"READ_YOUR_WRITES_TIMEOUT": "nan"},
        {"EVENT_STORE_LOCK_TIMEOUT": "0"},
        {"PROJECTOR_POLL_SECONDS": "inf"},
    ],
)
def test_nonsense_settings_are_refused_at_start(environ):
    with pytest.raises(ConfigError):
        Settings.from_env({"SECRET_KEY": "s", **environ})


@pytest.mark.parametrize("value, secure", [(None, False), ("", False), ("false", False), ("true", True), ("1", True)])
def test_session_cookie_secure_is_off_unless_asked_for(value, secure):
    environ = {"SECRET_KEY": "s", "DATABASE_URL": "postgresql+psycopg2://localhost/crm"}
    if value is not None:
        environ["SESSION_COOKIE_SECURE"] = value
    assert Settings.from_env(environ).session_cookie_secure is secure
