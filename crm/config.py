"""Settings read once from the environment (and `.env`, via python-dotenv)."""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///var/crm.sqlite3"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DELIVERY_BACKENDS = ("console", "smtp", "simulated")
PROJECTION_MODES = ("inline", "background")
PROJECTION_ON_ERROR = ("stop", "skip")  # an event a projection cannot apply: stop before it, or skip it
LOG_FORMATS = ("json", "text")
INSECURE_DEV_SECRET = "insecure-development-secret-change-me"


def _embedded_secret(database_url: str) -> str:
    """Without SECRET_KEY, a SQLite install keeps a random secret beside its database file.

    Every process of one installation must use the same secret (it wraps the per-customer keys
    and derives the email index ids), so PostgreSQL deployments, which span processes and hosts,
    must set SECRET_KEY explicitly.
    """
    if not database_url.startswith("sqlite"):
        raise ConfigError("SECRET_KEY is required with PostgreSQL: set it to a long random string")
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return INSECURE_DEV_SECRET
    path = Path(database).parent / "secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secret-key.{os.getpid()}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)  # atomic: a process racing us keeps the first secret written
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _networks(text: str | None) -> tuple:
    """`METRICS_ALLOW_NETWORKS`: comma-separated networks (`10.0.0.0/8,::1/128`); unset: this host."""
    if text is None:
        return Settings.metrics_allow_networks
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"METRICS_ALLOW_NETWORKS must be comma-separated networks like 10.0.0.0/8, not {text!r}"
        ) from None


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = INSECURE_DEV_SECRET
    log_level: str = "INFO"
    log_format: str = "json"  # json (one object per line) or text
    projection_mode: str = "inline"
    projection_on_error: str = "stop"  # an event a projection cannot apply: stop before it, or skip it
    read_your_writes_timeout: float = 5.0  # background mode: how long a command waits for the projector
    event_store_lock_timeout: float = 5.0  # PostgreSQL: a writer waits this long for the events table lock
    projector_poll_seconds: float = 0.2  # `crm projector`: polling interval on SQLite (PostgreSQL: LISTEN, 1 s)
    host: str = "127.0.0.1"
    port: int = 8000
    web_concurrency: int = 0  # 0: chosen from the database (1 process on SQLite)
    max_body_bytes: int = 1024 * 1024
    import_max_bytes: int = 128 * 1024 * 1024  # an upload to import (the other routes keep max_body_bytes)
    command_retries: int = 30
    broker_url: str | None = None  # None: the embedded worker runs inside `crm serve`
    delivery_backend: str = "console"
    delivery_max_attempts: int = 3
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "crm@localhost"
    simulated_latency_ms: int = 0
    simulated_failure_rate: float = 0.0
    session_cookie_secure: bool = False  # the dashboard's session cookie only over HTTPS
    public_base_url: str = "http://127.0.0.1:8000"  # where unsubscribe links in messages point
    ready_max_lag_seconds: float = 30.0  # /readyz: how long an event may wait for a projection
    rate_limit: str = "1000/second"  # per credential (API key, else client address); "off": none
    rate_limit_unsubscribe: str = "10/minute"  # per unsubscribe token
    # /metrics without a key from these networks (else with an admin key)
    metrics_allow_networks: tuple = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))

    def __post_init__(self) -> None:
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        if self.projection_on_error not in PROJECTION_ON_ERROR:
            raise ConfigError(f"PROJECTION_ON_ERROR must be stop or skip, not {self.projection_on_error!r}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be json or text, not {self.log_format!r}")
        if self.projection_mode not in PROJECTION_MODES:
            raise ConfigError(
                f"PROJECTION_MODE must be one of {', '.join(PROJECTION_MODES)}, not {self.projection_mode!r}"
            )
        if self.delivery_backend not in DELIVERY_BACKENDS:
            raise ConfigError(f"DELIVERY_BACKEND must be one of {', '.join(DELIVERY_BACKENDS)}")
        if not 0.0 <= self.simulated_failure_rate <= 1.0:
            raise ConfigError("SIMULATED_FAILURE_RATE must be between 0 and 1")
        if self.read_your_writes_timeout < 0 or self.event_store_lock_timeout <= 0 or self.projector_poll_seconds <= 0:
            raise ConfigError(
                "READ_YOUR_WRITES_TIMEOUT must be >= 0, EVENT_STORE_LOCK_TIMEOUT and PROJECTOR_POLL_SECONDS > 0"
            )
        from limits import parse_many

        for name, value in (("RATE_LIMIT", self.rate_limit), ("RATE_LIMIT_UNSUBSCRIBE", self.rate_limit_unsubscribe)):
            if name == "RATE_LIMIT" and value.lower() == "off":
                continue
            try:
                parse_many(value)
            except ValueError:
                raise ConfigError(f"{name} must be like '1000/second' or '10/minute;100/hour', not {value!r}") from None
        if self.import_max_bytes < 1:
            raise ConfigError("IMPORT_MAX_BYTES must be at least 1")
        if self.ready_max_lag_seconds <= 0:
            raise ConfigError("READY_MAX_LAG_SECONDS must be > 0")
        if self.delivery_max_attempts < 1 or self.simulated_latency_ms < 0:
            raise ConfigError("DELIVERY_MAX_ATTEMPTS must be >= 1 and SIMULATED_LATENCY_MS >= 0")
        if not self.public_base_url.startswith(("http://", "https://")) or any(
            c.isspace() for c in self.public_base_url
        ):
            raise ConfigError("PUBLIC_BASE_URL must be an http:// or https:// URL without spaces")
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise ConfigError("DATABASE_URL must be a sqlite:/// or postgresql+psycopg2:// URL")

    @property
    def uses_default_secret(self) -> bool:
        return self.secret_key == INSECURE_DEV_SECRET

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict | None = None, load_dotenv_file: bool = True) -> Settings:
        """Build settings from the process environment (after loading `.env` if present)."""
        if environ is None:
            if load_dotenv_file:
                from dotenv import find_dotenv, load_dotenv

                load_dotenv(find_dotenv(usecwd=True), override=False)
            environ = dict(os.environ)

        def number(name: str, default, kind=int):
            try:
                value = kind(environ.get(name) or default)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be a number, not {environ.get(name)!r}")
            return value

        database_url = environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        return cls(
            database_url=database_url,
            secret_key=environ.get("SECRET_KEY") or _embedded_secret(database_url),
            log_level=(environ.get("LOG_LEVEL") or "INFO").upper(),
            log_format=(environ.get("LOG_FORMAT") or "json").lower(),
            projection_mode=(environ.get("PROJECTION_MODE") or "inline").lower(),
            projection_on_error=(environ.get("PROJECTION_ON_ERROR") or "stop").lower(),
            read_your_writes_timeout=number("READ_YOUR_WRITES_TIMEOUT", 5.0, float),
            event_store_lock_timeout=number("EVENT_STORE_LOCK_TIMEOUT", 5.0, float),
            projector_poll_seconds=number("PROJECTOR_POLL_SECONDS", 0.2, float),
            host=environ.get("HOST") or "127.0.0.1",
            port=number("PORT", 8000),
            web_concurrency=number("WEB_CONCURRENCY", 0),
            import_max_bytes=number("IMPORT_MAX_BYTES", 128 * 1024 * 1024),
            broker_url=environ.get("CELERY_BROKER_URL") or environ.get("REDIS_URL") or None,
            delivery_backend=(environ.get("DELIVERY_BACKEND") or "console").lower(),
            delivery_max_attempts=number("DELIVERY_MAX_ATTEMPTS", 3),
            smtp_host=environ.get("SMTP_HOST") or "localhost",
            smtp_port=number("SMTP_PORT", 25),
            smtp_username=environ.get("SMTP_USERNAME") or None,
            smtp_password=environ.get("SMTP_PASSWORD") or None,
            smtp_starttls=(environ.get("SMTP_STARTTLS") or "").lower() in ("1", "true", "yes", "on"),
            smtp_from=environ.get("SMTP_FROM") or "crm@localhost",
            simulated_latency_ms=number("SIMULATED_LATENCY_MS", 0),
            simulated_failure_rate=number("SIMULATED_FAILURE_RATE", 0.0, float),
            session_cookie_secure=(environ.get("SESSION_COOKIE_SECURE") or "").lower() in ("1", "true", "yes", "on"),
            public_base_url=(environ.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
            ready_max_lag_seconds=number("READY_MAX_LAG_SECONDS", 30.0, float),
            rate_limit=environ.get("RATE_LIMIT") or "1000/second",
            rate_limit_unsubscribe=environ.get("RATE_LIMIT_UNSUBSCRIBE") or "10/minute",
            metrics_allow_networks=_networks(environ.get("METRICS_ALLOW_NETWORKS")),
        )
