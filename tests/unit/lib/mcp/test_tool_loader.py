"""Tool discovery: folders become tools; broken modules fail start-up with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastmcp import Client
from tests.toolpkg import ECHO_MODULE, make_tool_package

from tomo.lib.config import TomoConfig
from tomo.lib.mcp.loader import ToolLoadError
from tomo.main import build_app


async def test_discovers_a_throwaway_tool_module(tmp_path: Path) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"echo": ECHO_MODULE})
    app = build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=("tomo.tools", package))
    async with Client(app.mcp) as client:
        names = {tool.name for tool in await client.list_tools()}
        result = await client.call_tool("echo_text", {"text": "hi"})
    assert {"echo_text", "echo_destroy", "health_check"} <= names
    assert result.structured_content == {"success": True, "message": "echoed", "data": {"text": "hi"}}


def test_missing_dependency_names_class_and_parameter(tmp_path: Path) -> None:
    source = '''
    from tomo.lib.mcp.tooling import tomo_tool
    class NeedyTools:
        def __init__(self, unicorn_service):
            self.unicorn = unicorn_service
        @tomo_tool(read_only=True)
        async def needy(self) -> None:
            """Needs a unicorn."""
    '''
    package = make_tool_package(tmp_path / "pkgs", {"needy": source})
    with pytest.raises(ToolLoadError, match=r"NeedyTools.__init__ needs 'unicorn_service'"):
        build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=(package,))


def test_module_without_tools_class_fails_startup(tmp_path: Path) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"empty": "class Helper:\n    pass\n"})
    with pytest.raises(ToolLoadError, match=r"empty.tools' must define exactly one \*Tools class \(found: none\)"):
        build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=(package,))


def test_folder_without_tools_py_fails_startup(tmp_path: Path) -> None:
    package = make_tool_package(tmp_path / "pkgs", {})
    (tmp_path / "pkgs" / package / "orphan").mkdir()
    (tmp_path / "pkgs" / package / "orphan" / "__init__.py").write_text("")
    with pytest.raises(ToolLoadError, match="orphan.tools' is missing"):
        build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=(package,))


def test_public_method_without_metadata_fails_startup(tmp_path: Path) -> None:
    source = '''
    class BareTools:
        async def bare(self) -> None:
            """No metadata."""
    '''
    package = make_tool_package(tmp_path / "pkgs", {"bare": source})
    with pytest.raises(ToolLoadError, match=r"BareTools.bare is public but has no @tomo_tool"):
        build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=(package,))


def test_module_that_fails_to_import_names_the_module(tmp_path: Path) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"broken": "import not_a_real_module_xyz\n"})
    with pytest.raises(ToolLoadError, match=r"broken.tools' failed to import"):
        build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=(package,))


def test_a_method_marked_both_tool_and_resource_fails_startup(tmp_path: Path) -> None:
    source = '''
    from tomo.lib.mcp.tooling import tomo_resource, tomo_tool

    class TwiceTools:
        @tomo_resource("test://twice", title="Twice")
        @tomo_tool(read_only=True)
        async def twice(self) -> dict:
            """Both."""
            return {}
    '''
    package = make_tool_package(tmp_path / "pkgs", {"twice": source})
    with pytest.raises(ToolLoadError, match=r"TwiceTools.twice is marked both as a tool and as a resource"):
        build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=(package,))


async def test_resource_and_prompt_methods_are_registered_but_not_as_tools(tmp_path: Path) -> None:
    source = '''
    from tomo.lib.mcp.tooling import tomo_prompt, tomo_resource

    class NoteTools:
        @tomo_resource("test://notes/{note_id}", title="Note")
        async def note_resource(self, note_id: str) -> dict:
            """One note."""
            return {"id": note_id}

        @tomo_prompt(title="Summarize")
        async def summarize(self, topic: str) -> str:
            """Summarize a topic."""
            return f"Summarize {topic}."
    '''
    package = make_tool_package(tmp_path / "pkgs", {"notes": source})
    app = build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=(package,))
    async with Client(app.mcp) as client:
        assert await client.list_tools() == []
        note = await client.read_resource("test://notes/n1")
        prompt = await client.get_prompt("summarize", {"topic": "tea"})
    assert note[0].text == '{\n  "id": "n1"\n}'
    assert prompt.messages[0].content.text == "Summarize tea."
