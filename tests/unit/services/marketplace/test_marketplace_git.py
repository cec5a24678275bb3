"""lib/git: URL and branch validation, shallow checkout and re-sync with real git, timeouts, masked errors."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from tests.unit.services.marketplace.test_marketplace_kit import commit_all, git

from tomo.errors import SyncFailed, ValidationError
from tomo.lib import git as tomo_git


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """A local git repository with three commits on main."""
    repo = tmp_path / "upstream"
    repo.mkdir()
    for index in range(3):
        (repo / "file.txt").write_text(f"version {index}\n")
        commit_all(repo, f"commit {index}")
    return repo


@pytest.mark.parametrize("url", [
    "https://github.com/IceWhaleTech/CasaOS-AppStore.git",
    "ssh://git@example.com:2222/owner/catalog.git",
    "git@github.com:runtipi/runtipi-appstore.git",
])
def test_remote_urls_of_the_allowed_forms_are_accepted(url: str) -> None:
    assert tomo_git.validate_url(f"  {url} ") == url


def test_local_git_repository_is_accepted_as_path_and_file_url(upstream: Path) -> None:
    assert tomo_git.validate_url(str(upstream)) == str(upstream)
    assert tomo_git.validate_url(upstream.as_uri()) == upstream.as_uri()


@pytest.mark.parametrize(("url", "reason"), [
    ("-oProxyCommand=touch /tmp/x", "must not start with '-'"),
    ("--upload-pack=touch /tmp/x", "must not start with '-'"),
    ("ext::sh -c touch% /tmp/x", "Transport helpers"),
    ("fd::3", "Transport helpers"),
    ("http://example.com/repo.git", "http:// protocol is not allowed"),
    ("git://example.com/repo.git", "git:// protocol is not allowed"),
    ("ssh://-oProxyCommand=x/repo", "no valid host"),
    ("https://example.com/-repo", "path starts with '-'"),
    ("git@host:-repo", "must not start with '-'"),
    ("relative/path", "Unsupported repository URL"),
    ("/nonexistent/catalog", "not an existing absolute directory"),
    ("https://example.com/a\nb", "control characters"),
])
def test_dangerous_or_unsupported_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(")):
        tomo_git.validate_url(url)


def test_plain_folder_is_refused_with_how_to_make_it_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a git repository; run `git init"):
        tomo_git.validate_url(str(tmp_path))


@pytest.mark.parametrize("branch", ["main", "master", "release/1.2", "v1.0.0", "feature_x+y"])
def test_ordinary_branches_are_accepted(branch: str) -> None:
    assert tomo_git.validate_branch(branch) == branch


@pytest.mark.parametrize("branch", [
    "--upload-pack=touch /tmp/x", "-b", "a..b", "a b", "main.lock", "a//b", "/main", "main/", ".hidden",
    "a/.b", "a@{1}", "@", "", "a~1", "a^", "a:b", "x" * 201,
])
def test_unsafe_or_invalid_branches_are_refused(branch: str) -> None:
    with pytest.raises(ValidationError, match="not a valid branch name"):
        tomo_git.validate_branch(branch)


def test_git_itself_rejects_every_branch_the_validator_refuses() -> None:
    for branch in ["a..b", "main.lock", "a//b", "a/.b", "a@{1}", "a~1", "a^", "a:b", "a b"]:
        result = subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True)
        assert result.returncode != 0, branch


@pytest.mark.parametrize(("text", "masked"), [
    ("https://user:s3cret@example.com/r.git", "https://***@example.com/r.git"),
    ("fatal: https://ghp_token123@github.com/x failed", "fatal: https://***@github.com/x failed"),
    ("ssh://git@example.com/r.git", "ssh://git@example.com/r.git"),
    ("ssh://git:pw@example.com/r.git", "ssh://***@example.com/r.git"),
])
def test_credentials_in_urls_are_masked(text: str, masked: str) -> None:
    assert tomo_git.mask_url(text) == masked


async def test_first_checkout_is_a_shallow_clone_of_the_branch(upstream: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data" / "catalogs" / "repo1"
    commit = await tomo_git.checkout(str(upstream), "main", dest, timeout=60)
    assert commit == git(upstream, "rev-parse", "HEAD").strip()
    assert git(dest, "rev-list", "--count", "HEAD").strip() == "1"
    assert (dest / "file.txt").read_text() == "version 2\n"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["repo1"]


async def test_resync_fetches_and_hard_resets_to_upstream(upstream: Path, tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    await tomo_git.checkout(str(upstream), "main", dest, timeout=60)
    (dest / "file.txt").write_text("local edit\n")
    (dest / "stray.txt").write_text("untracked\n")
    (upstream / "file.txt").write_text("version 3\n")
    new_commit = commit_all(upstream, "commit 3")
    assert await tomo_git.checkout(str(upstream), "main", dest, timeout=60) == new_commit
    assert (dest / "file.txt").read_text() == "version 3\n"
    assert not (dest / "stray.txt").exists()


async def test_hooks_in_the_checkout_never_run(upstream: Path, tmp_path: Path) -> None:
    dest, marker = tmp_path / "checkout", tmp_path / "hook-ran"
    await tomo_git.checkout(str(upstream), "main", dest, timeout=60)
    hooks = dest / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in ("reference-transaction", "post-checkout", "post-merge"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / name).chmod(0o755)
    commit_all(upstream, "another commit")
    await tomo_git.checkout(str(upstream), "main", dest, timeout=60)
    assert not marker.exists()


async def test_missing_branch_fails_with_the_git_error_and_leaves_nothing(upstream: Path, tmp_path: Path) -> None:
    dest = tmp_path / "catalogs" / "repo1"
    with pytest.raises(SyncFailed, match="git clone failed: .*nope"):
        await tomo_git.checkout(str(upstream), "nope", dest, timeout=60)
    assert list((tmp_path / "catalogs").iterdir()) == []


async def test_failed_fetch_error_masks_credentials(tmp_path: Path) -> None:
    url = "https://tomo-user:hunter2-secret@127.0.0.1:9/owner/repo.git"
    with pytest.raises(SyncFailed) as caught:
        await tomo_git.checkout(url, "main", tmp_path / "checkout", timeout=30)
    assert "hunter2" not in caught.value.message
    assert caught.value.message.startswith("git clone failed:")


async def test_option_shaped_url_and_branch_never_reach_git(upstream: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(ValidationError):
        await tomo_git.checkout(f"--upload-pack=touch {marker}", "main", tmp_path / "a", timeout=30)
    with pytest.raises(ValidationError):
        await tomo_git.checkout(str(upstream), f"--upload-pack=touch {marker}", tmp_path / "b", timeout=30)
    assert not marker.exists()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


async def test_timeout_kills_git_and_its_children() -> None:
    started = time.monotonic()
    with pytest.raises(SyncFailed, match="did not finish within 0.5 s"):
        await tomo_git.run_git(["-c", "alias.nap=!sleep 31.4159", "nap"], timeout=0.5)
    assert time.monotonic() - started < 5
    leftover = subprocess.run(["pgrep", "-f", "sleep 31.4159"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""
