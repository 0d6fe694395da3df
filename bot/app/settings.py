"""Process settings from the environment (secrets live only here, never in feeds.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # Empty values count as unset: compose files pass `DISCORD_TOKEN: ${DISCORD_TOKEN:-}`.
    model_config = SettingsConfigDict(
        env_prefix="POLICYBOT_", extra="ignore", env_ignore_empty=True
    )

    feeds: Path = Field(default=Path("feeds.yaml"), description="the feeds/config file")
    data_dir: Path = Field(default=Path("data"), description="where the SQLite file lives")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "POLICYBOT_DATABASE_URL"),
        description="SQLAlchemy URL; default: a SQLite file in data_dir",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL"
    )
    log_format: Literal["console", "json"] = Field(default="console", description="console or json")
    # Read by the fetcher and the feeds-add check straight from the environment; declared
    # here so that `config check` rejects a value they would silently read as "no".
    allow_private_feeds: bool = Field(
        default=False, description="let feeds added from chat use private addresses"
    )

    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "POLICYBOT_DISCORD_TOKEN")
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "POLICYBOT_SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "POLICYBOT_SLACK_APP_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "POLICYBOT_SLACK_SIGNING_SECRET"),
    )
    slack_mode: Literal["socket", "http"] | None = Field(
        default=None,
        description="Slack connection: socket (needs SLACK_APP_TOKEN) or http (needs"
        " SLACK_SIGNING_SECRET); default: socket when an app token is set, else http",
    )
    slack_http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="port of Slack's HTTP mode endpoint /slack/events (3000; 0: any free port)",
    )
    # A plain string: pydantic-settings would try to read a list from JSON.
    slack_admins: str | None = Field(
        default=None,
        description="Slack user ids allowed to change feeds and subscriptions:"
        " U123,U456 (workspace admins always are)",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="health/metrics HTTP port; off when unset (0: any free port)",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, v: object) -> object:
        return v.strip().upper() if isinstance(v, str) else v

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants a driver too.
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'policybot.db').resolve()}"

    @property
    def has_chat_platform(self) -> bool:
        return bool(self.discord_token or self.slack_bot_token)
