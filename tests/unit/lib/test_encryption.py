"""Credential encryption: key file 0600, master-key derivation stable, foreign keys refused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tomo.lib.encryption import DecryptionFailed, Encryptor


async def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    first = Encryptor(None, tmp_path)
    token = await first.encrypt_json({"password": "hunter2"})
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600
    assert "hunter2" not in token
    assert await Encryptor(None, tmp_path).decrypt_json(token) == {"password": "hunter2"}


async def test_master_key_derivation_is_stable_and_key_specific(tmp_path: Path) -> None:
    token = await Encryptor("correct horse battery staple", tmp_path).encrypt("secret")
    assert await Encryptor("correct horse battery staple", tmp_path).decrypt(token) == "secret"
    with pytest.raises(DecryptionFailed):
        await Encryptor("another master key", tmp_path).decrypt(token)
    assert not (tmp_path / "master.key").exists()
