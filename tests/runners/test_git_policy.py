"""Git URL policy and credential redaction, by table."""

from __future__ import annotations

import os
import subprocess

import pytest

from runners.errors import SpecError
from runners.git import (
    check_git_url,
    check_ref,
    check_resolved_host,
    git_environment,
    internal,
    redact,
)

pytestmark = pytest.mark.unit

DEFAULT = ("https", "ssh")


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("https://github.com/org/repo.git", "https"),
        ("https://token@github.com/org/repo", "https"),
        ("ssh://git@github.com/org/repo.git", "ssh"),
        ("git+ssh://git@github.com/org/repo.git", "ssh"),
        ("git@github.com:org/repo.git", "ssh"),
        ("github.com:org/repo.git", "ssh"),
    ],
)
def test_allowed(url: str, scheme: str) -> None:
    assert check_git_url(url, DEFAULT, ()) == scheme


@pytest.mark.parametrize(
    "url",
    [
        "",
        "-oProxyCommand=touch x",
        "--upload-pack=touch x",
        "file:///etc/passwd",
        "file://host/x",
        "ext::sh -c touch% x",
        "ext::ssh",
        "fd::17",
        "/srv/repo.git",
        "./repo",
        "repo",
        "http://github.com/x.git",
        "git://github.com/x.git",
        "ssh://-oProxyCommand=x/repo",
        "https://github.com/x\n.git",
        "https:///nohost",
        "git@-host:repo",
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(SpecError):
        check_git_url(url, DEFAULT, ())


def test_host_allow_list() -> None:
    assert check_git_url("https://GitHub.com/a/b", DEFAULT, ("github.com",)) == "https"
    with pytest.raises(SpecError, match="not in the allowed list"):
        check_git_url("https://evil.example/a/b", DEFAULT, ("github.com",))


@pytest.mark.parametrize("ref", ["", "main", "v1.2.3", "feature/x", "0123abc", "release_2024"])
def test_good_refs(ref: str) -> None:
    assert check_ref(ref) == ref


@pytest.mark.parametrize(
    "ref", ["-x", "--upload-pack=x", "a..b", "a b", "a@{1}", "x.lock", "a/", ":x"]
)
def test_bad_refs(ref: str) -> None:
    with pytest.raises(SpecError):
        check_ref(ref)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://alice:s3cret@github.com/r.git", "https://***@github.com/r.git"),
        ("fatal: https://tok@host/x failed", "fatal: https://***@host/x failed"),
        ("ssh://git@host/x and https://u:p@h/y", "ssh://***@host/x and https://***@h/y"),
        ("https://github.com/r.git", "https://github.com/r.git"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_git_environment_limits_transports_and_prompts() -> None:
    env = git_environment(
        {"PATH": "/usr/bin", "GIT_DIR": "/elsewhere", "GIT_ASKPASS": "x"}, ("git+ssh",)
    )
    assert env["GIT_ALLOW_PROTOCOL"] == "ssh"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert "GIT_DIR" not in env and "GIT_ASKPASS" not in env
    assert env["PATH"] == "/usr/bin"


def test_private_repository_credentials_come_from_the_environment() -> None:
    """Real git asks the helper: the secret answers, and appears in no URL or argument."""
    base = {"PATH": os.environ["PATH"], "PODIUM_GIT_USERNAME": "bot", "PODIUM_GIT_PASSWORD": "s3"}
    env = git_environment(base, ("https",))
    assert "s3" not in " ".join(v for k, v in env.items() if k.startswith("GIT_"))
    asked = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=git.example.org\n\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "username=bot" in asked.stdout and "password=s3" in asked.stdout
    plain = git_environment({"PATH": os.environ["PATH"]}, ("https",))
    assert "GIT_CONFIG_COUNT" not in plain


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("127.0.0.1", True), ("169.254.169.254", True), ("10.0.0.1", True),
        ("192.168.1.1", True), ("100.64.0.1", True), ("0.0.0.0", True), ("::1", True),
        ("fe80::1%eth0", True), ("fd00::1", True), ("::ffff:10.0.0.1", True),
        ("140.82.121.4", False), ("2606:4700::1111", False),
    ],
)  # fmt: skip
def test_internal_addresses(address: str, inside: bool) -> None:
    assert internal(address) is inside


async def test_a_name_that_resolves_inside_is_refused_unless_allowed() -> None:
    with pytest.raises(SpecError, match="resolves to an internal address"):
        await check_resolved_host("localhost", ())
    await check_resolved_host("localhost", ("localhost",))  # the admin named it
    await check_resolved_host("no-such-host.invalid", (), strict=False)  # the clone will say
