"""AppRemote.remove_tree: how root-owned app data is deleted, and what the helper container may touch."""

from __future__ import annotations

import pytest
from tests.fakes import RecordingRunner, failed, ok

from tomo.errors import CommandFailed
from tomo.lib.ssh import CommandResult
from tomo.services.apps.remote import HELPER_MOUNT, AppRemote
from tomo.services.apps.render import ProjectPaths

PATHS = ProjectPaths("/srv/apps", "web")


def runner_where_only_the_helper_removes() -> RecordingRunner:
    gone = {"done": False}

    def handler(argv: list[str]) -> CommandResult:
        if argv[:2] == ["docker", "run"]:
            gone["done"] = True
            return failed(f"rm: can't remove '{HELPER_MOUNT}': Resource busy")
        if argv[0] == "test":
            return ok() if not gone["done"] else failed("")
        return failed("rm: Permission denied")

    return RecordingRunner(handler)


async def test_the_helper_container_mounts_only_the_folder_removed_with_no_network_nor_capabilities() -> None:
    runner = runner_where_only_the_helper_removes()
    how = await AppRemote(runner).remove_tree("srv", PATHS, PATHS.project_dir, "vendor/app:1")
    assert how == "container"
    run = next(call.argv for call in runner.calls if call.argv[:2] == ["docker", "run"])
    volumes = [run[i + 1] for i, arg in enumerate(run) if arg in ("--volume", "-v", "--mount")]
    assert volumes == [f"/srv/apps/web:{HELPER_MOUNT}"]  # not /srv/apps, where every other app's .env lives
    assert run[run.index("--network") + 1] == "none"
    added = [run[i + 1] for i, arg in enumerate(run) if arg == "--cap-add"]
    assert run[run.index("--cap-drop") + 1] == "ALL" and added == ["DAC_OVERRIDE", "FOWNER"]
    assert "--privileged" not in run
    assert run[run.index("--security-opt") + 1] == "no-new-privileges"
    assert run[run.index("--") + 1:] == ["vendor/app:1", "-rf", "--", HELPER_MOUNT]
    argvs = [call.argv for call in runner.calls]
    assert argvs[argvs.index(run) + 1] == ["rm", "-rf", "--", "/srv/apps/web"]  # the SSH user removes what is left


async def test_without_a_helper_image_a_folder_that_stays_is_an_error() -> None:
    runner = RecordingRunner(lambda argv: ok() if argv[0] == "test" else failed("denied"))
    with pytest.raises(CommandFailed, match="remove it by hand"):
        await AppRemote(runner).remove_tree("srv", PATHS, PATHS.data_dir, None)
    assert not any(call.argv[:2] == ["docker", "run"] for call in runner.calls)
