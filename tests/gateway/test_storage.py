"""The form's file picker sees the owner's storage, and nothing outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import NotFound
from gateway.web.files import has_file, list_folder

pytestmark = pytest.mark.unit


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "alice"
    (root / "apps" / "sales").mkdir(parents=True)
    (root / "apps" / "sales" / "app.py").write_text("")
    (root / "apps" / "report.ipynb").write_text("{}")
    (root / "apps" / "data.csv").write_text("")
    (root / "apps" / ".secret.py").write_text("")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "private.py").write_text("")
    (root / "apps" / "to-bob").symlink_to(tmp_path / "bob")
    (root / "apps" / "bobs.py").symlink_to(tmp_path / "bob" / "private.py")
    (root / "apps" / "inside.py").symlink_to(root / "apps" / "sales" / "app.py")
    return root


def test_folders_first_then_notebooks_and_scripts(home: Path) -> None:
    found = [(e.name, e.folder) for e in list_folder(home, "apps")]
    assert found == [("sales", True), ("inside.py", False), ("report.ipynb", False)]
    assert [e.as_json() for e in list_folder(home, "")] == [{"name": "apps", "type": "folder"}]


def test_nothing_outside_the_storage(home: Path) -> None:
    with pytest.raises(NotFound):
        list_folder(home, "apps/to-bob")
    with pytest.raises(NotFound):
        list_folder(home, "../bob")
    with pytest.raises(NotFound):
        list_folder(home, "apps/sales/app.py")  # a file is not a folder
    assert has_file(home, "apps/sales/app.py")
    assert has_file(home, "apps/inside.py")
    assert not has_file(home, "apps/bobs.py")
    assert not has_file(home, "../bob/private.py")
    assert not has_file(home, "apps/missing.py")
    assert not has_file(home / "nowhere", "x.py")
