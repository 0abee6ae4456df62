"""A runner's folder belongs to its owner (``run_as_owner``); the gateway, as root, writes
the spec and reads the log there without following what the owner planted (found by the
attacker review: a link named runner.log let any owner read a root-only file through the
logs API and own it after the next start)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.domain.dashboards import Dashboard, Source
from gateway.launchers.folders import LINE_CHARS, make_folder, open_log, read_tail, write_spec
from gateway.launchers.local import LocalLauncher

pytestmark = pytest.mark.unit
NOBODY = (65534, 65534)


def planted(tmp_path: Path) -> tuple[Path, Path]:
    secret = tmp_path / "root-only"
    secret.write_text("TOPSECRET")
    secret.chmod(0o600)
    folder = tmp_path / "runners" / "alice" / "probe"
    make_folder(folder, NOBODY)
    return folder, secret


def unchanged(secret: Path) -> None:
    found = secret.stat()
    assert secret.read_text() == "TOPSECRET"
    assert (found.st_uid, found.st_mode & 0o777) == (os.geteuid(), 0o600)


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
def test_nothing_planted_is_read_written_or_chowned(tmp_path: Path, kind: str) -> None:
    folder, secret = planted(tmp_path)
    for name in ("runner.log", "spec.json"):
        if kind == "symlink":
            (folder / name).symlink_to(secret)
        elif kind == "hardlink":
            os.link(secret, folder / name)
        else:
            os.mkfifo(folder / name)
    assert read_tail(folder, 50) == []
    with pytest.raises(OSError):
        open_log(folder, NOBODY)
    write_spec(folder, '{"new": true}', NOBODY)  # replaces whatever was there
    assert (folder / "spec.json").read_text() == '{"new": true}'
    assert (folder / "spec.json").stat().st_uid == NOBODY[0]
    unchanged(secret)


def test_a_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "runners" / "alice" / "probe"
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere)
    with pytest.raises(OSError):
        make_folder(link, NOBODY)
    assert elsewhere.stat().st_uid == os.geteuid()


async def test_the_logs_api_reads_no_planted_link(tmp_path: Path) -> None:
    launcher = LocalLauncher(
        "/dashboards/", ["https"], [], user_root=f"{tmp_path}/home/{{username}}",
        state_dir=str(tmp_path / "runners"),
    )  # fmt: skip
    d = Dashboard(owner="alice", name="probe", framework="custom", command=("serve",),
                  source=Source(path="app"))  # fmt: skip
    folder, secret = planted(tmp_path)
    assert launcher.folder(d) == folder.resolve()
    (folder / "runner.log").symlink_to(secret)
    assert await launcher.logs(d, None, 50) == []
    unchanged(secret)


def test_a_plain_log_is_appended_and_read(tmp_path: Path) -> None:
    folder, _ = planted(tmp_path)
    for line in ("one\n", "two\n"):
        with os.fdopen(open_log(folder, NOBODY), "a") as f:
            f.write(line)
    assert read_tail(folder, 1) == ["two"]
    assert (folder / "runner.log").stat().st_uid == NOBODY[0]


def test_a_huge_log_costs_the_gateway_a_bounded_read(tmp_path: Path) -> None:
    folder, _ = planted(tmp_path)
    with (folder / "runner.log").open("wb") as f:
        f.write(b"first\n")
        f.truncate(10 << 30)  # 10 GB, sparse: no disk, one line with no end
        f.seek(0, os.SEEK_END)
        f.write(b"\nsecond\nthird\n")
    assert read_tail(folder, 50) == ["second", "third"]  # from the last MiB, whole lines
    assert read_tail(folder, 0) == []
    (folder / "runner.log").write_text("x" * 100_000 + "\nend\n")
    assert read_tail(folder, 50) == ["x" * LINE_CHARS, "end"]  # a long line, cut
