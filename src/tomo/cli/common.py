"""What every ``tomo`` command shares: the data directory option and the configuration it loads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tomo.lib.config import TomoConfig

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: TOMO_DATA_DIR or the user data dir).")
]


def load_config(data_dir: Path | None, **overrides: Any) -> TomoConfig:
    """Tomo's configuration (environment plus ``overrides``) with logging set up on stderr; exit 2 if refused."""
    from pydantic import ValidationError

    from tomo.lib.config import TomoConfig
    from tomo.lib.logging_config import configure_logging

    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        config = TomoConfig(**overrides)
    except ValidationError as exc:  # one line per problem, never the value (it may be a secret)
        for error in exc.errors():
            typer.echo(f"Configuration error: {str(error['msg']).removeprefix('Value error, ')}.", err=True)
        raise typer.Exit(2) from None
    configure_logging(config.log_level, config.log_format)
    return config
