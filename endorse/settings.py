"""One settings object, read from the environment (prefix ``ENDORSE_``, plus ``DATABASE_URL``).

Secrets have no usable default: production refuses a missing secret key; in development, without
``ENDORSE_SECRET_KEY``, a random one is made in the data directory on first use (mode 0600) and shared
by every process on that directory; the public placeholder is left only to tests, on loopback.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET = "development-only-secret-change-me"
SECRET_FILE = "secret_key"  # in the data directory, made on first start when no secret is set


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDORSE_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = PROJECT_ROOT / "var"
    rules_dir: Path = PROJECT_ROOT / "rules"
    templates_dir: Path = PROJECT_ROOT / "templates"
    # Association profiles (endorse/profiles.py); default: beside the rulebooks in rules_dir/associations.
    profiles_dir: Path | None = None
    # DATABASE_URL without prefix, as most hosting sets it; default: SQLite under data_dir.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")

    # Keys tokens and sessions; never logged, never stored.
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    public_base_url: str = "http://127.0.0.1:8000"
    # Where coordinators open the Prefect dashboard (application pages link to their runs there).
    prefect_ui_url: str | None = Field(default=None, validation_alias="PREFECT_UI_URL")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    # The sender of emails that belong to no association; an association's emails use its profile's sender.
    mail_from: str = "endorsement@localhost"
    # Requests a minute per client address on the secure-link pages.
    link_rate_limit_per_minute: int = 120
    outbox_concurrency: int = 20
    outbox_max_attempts: int = 6

    # Addresses of the reverse proxies whose X-Forwarded-For / -Proto headers are believed (comma-separated
    # IPs or networks). Default none: the rate limiter keys on the address that really connected.
    trusted_proxies: str = ""

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "Settings":
        if self.uses_placeholder_secret and (self.data_dir / SECRET_FILE).is_file():
            # Created on first start (see ensure_secret_key): every process on this data directory shares it.
            self.secret_key = SecretStr((self.data_dir / SECRET_FILE).read_text().strip())
        if self.env == "production" and self.uses_placeholder_secret:
            raise ValueError("ENDORSE_SECRET_KEY must be set to a real secret when ENDORSE_ENV=production")
        return self

    @property
    def uses_placeholder_secret(self) -> bool:
        return self.secret_key.get_secret_value() in ("", DEVELOPMENT_SECRET)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Hosting often hands out postgres:// URLs; SQLAlchemy wants an explicit driver.
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://"):]
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            return url
        return f"sqlite:///{self.data_dir / 'endorse.sqlite3'}"


def ensure_secret_key(settings: Settings) -> Path | None:
    """Without ENDORSE_SECRET_KEY, make a random secret in the data directory (mode 0600) and use it:
    the public development placeholder would let anyone forge a session or a link. Returns the file
    when it was created now, None when a secret was already there."""
    if not settings.uses_placeholder_secret:
        return None
    path = settings.data_dir / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        settings.secret_key = SecretStr(path.read_text().strip())
        return None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    settings.secret_key = SecretStr(secret)
    return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    if settings.env == "development":  # (test runs set their own key; production refuses a missing one)
        created = ensure_secret_key(settings)
        if created is not None:
            print(f"endorse: no ENDORSE_SECRET_KEY set: created a random secret key in {created} (mode 0600)",
                  file=sys.stderr)
    return settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_can_serve(settings: Settings, host: str) -> None:
    """The placeholder secret is public: with it anyone can forge a session, so it never leaves loopback."""
    if settings.uses_placeholder_secret and not is_loopback(host):
        raise ValueError(f"refusing to serve on {host} with the development placeholder secret: set "
                         f"ENDORSE_SECRET_KEY (or ENDORSE_ENV=development to have one made in the data directory)")
