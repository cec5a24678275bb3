"""Process configuration: ``TOMO_*`` environment variables and an optional YAML file.

This is the *start-up* configuration (where data lives, which database, which
keys). Runtime settings that an admin changes through tools live in the
database and are described by ``services/settings/registry.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

CONFIG_FILE_ENV = "TOMO_CONFIG_FILE"


#: The shortest TOMO_MASTER_KEY or TOMO_JWT_SECRET accepted (a shorter one is refused at start).
MIN_SECRET_CHARS = 32

def default_data_dir() -> Path:
    """The platform's per-user data directory for Tomo (``~/.local/share/tomo`` on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("tomo", appauthor=False))


class TomoConfig(BaseSettings):
    """Start-up configuration, read from ``TOMO_*`` variables, then the YAML file, then defaults."""

    model_config = SettingsConfigDict(env_prefix="TOMO_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir, description="Where Tomo keeps its database and keys.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite:///<data_dir>/tomo.db.",
    )
    master_key: SecretStr | None = Field(
        default=None, description="Passphrase the credential-encryption key is derived from (PBKDF2)."
    )
    jwt_secret: SecretStr | None = Field(default=None, description="Secret that signs login tokens (HS256).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    user: str | None = Field(default=None, description="Tomo user a stdio session acts as (default: first admin).")
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("master_key", "jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            name = f"TOMO_{str(info.field_name).upper()}"
            raise ValueError(f"{name} is too short: use at least {MIN_SECRET_CHARS} random characters "
                             f"(for example the output of `openssl rand -base64 32`), or unset it to let Tomo keep "
                             "a random key file in the data directory")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one or the embedded SQLite file."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'tomo.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_file = os.environ.get(CONFIG_FILE_ENV)
        if yaml_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=Path(yaml_file)))
        return tuple(sources)
