"""TOMO_MASTER_KEY and TOMO_JWT_SECRET shorter than 32 characters are refused at start, in one line, unshown."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tomo.cli import app


@pytest.mark.parametrize("variable", ["TOMO_MASTER_KEY", "TOMO_JWT_SECRET"])
def test_a_short_secret_is_refused_at_start_without_showing_it(tmp_path: Path, variable: str) -> None:
    secret = "hunter2-but-longer"  # 18 characters
    result = CliRunner().invoke(app, ["serve"], env={variable: secret, "TOMO_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert f"{variable} is too short: use at least 32" in result.output
    assert secret not in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "tomo.db").exists()  # nothing was started


def test_a_long_enough_secret_is_accepted(tmp_path: Path) -> None:
    from tomo.lib.config import TomoConfig

    config = TomoConfig(data_dir=tmp_path, master_key="x" * 32, jwt_secret="y" * 40)
    assert config.master_key is not None and len(config.master_key.get_secret_value()) == 32
