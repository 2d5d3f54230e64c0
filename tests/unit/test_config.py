import pytest

from crm.config import DEFAULT_DATABASE_URL, ConfigError, Settings


def test_defaults_are_the_embedded_setup():
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL and settings.is_sqlite
    assert settings.projection_mode == "inline" and settings.port == 8000
    assert settings.uses_default_secret


@pytest.mark.parametrize(
    "environ",
    [
        {"LOG_LEVEL": "chatty"},
        {"PROJECTION_MODE": "sometimes"},
        {"PORT": "eighty"},
        {"DATABASE_URL": "mysql://localhost/crm"},
    ],
)
def test_nonsense_settings_are_refused_at_start(environ):
    with pytest.raises(ConfigError):
        Settings.from_env(environ)
