"""One settings object, read from the environment (prefix ``ENDORSE_``, plus ``DATABASE_URL``).

Secrets have no usable default outside development: a placeholder is refused when
``ENDORSE_ENV`` is anything but ``development`` or ``test``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET = "development-only-secret-change-me"


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

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "Settings":
        if self.env == "production" and self.secret_key.get_secret_value() in ("", DEVELOPMENT_SECRET):
            raise ValueError("ENDORSE_SECRET_KEY must be set to a real secret when ENDORSE_ENV=production")
        return self

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
