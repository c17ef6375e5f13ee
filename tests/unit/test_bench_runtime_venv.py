"""bench/imports.runtime_python rebuilds a stale runtime venv in this checkout: one that is
a symlink to another checkout's (a worktree sharing it) is replaced, never cleared through
the link."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

from bench import imports


def test_a_shared_venv_is_replaced_not_cleared(tmp_path: Path) -> None:
    shared = tmp_path / "main-venv"
    (shared / "bin").mkdir(parents=True)
    (shared / "bin" / "python").write_text("the other checkout's")
    link = tmp_path / "checkout" / ".venv-runtime"
    link.parent.mkdir()
    link.symlink_to(shared)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("boto3==1\n")
    ran: list[list[str]] = []

    def run(args: list[str], **_: Any) -> None:
        ran.append([str(a) for a in args])
        if "venv" in args:  # what `python -m venv --clear <dir>` leaves
            assert not link.is_symlink(), "the venv was made through the symlink"
            (link / "bin").mkdir(parents=True)
            (link / "bin" / "python").write_text("this checkout's")

    with (
        mock.patch.object(imports, "RUNTIME_VENV", link),
        mock.patch.object(imports, "STAMP", link / ".stamp"),
        mock.patch.object(imports, "REQUIREMENTS", requirements),
        mock.patch.object(imports, "ROOT", tmp_path),
        mock.patch.object(imports, "_dev_packages", return_value=[]),
        mock.patch.object(imports.subprocess, "run", run),
    ):
        python = imports.runtime_python()
    assert python == link / "bin" / "python" and not link.is_symlink()
    assert (shared / "bin" / "python").read_text() == "the other checkout's"  # untouched
    assert [a[1:3] for a in ran] == [["-m", "venv"], ["-m", "pip"]]
