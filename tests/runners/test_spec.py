"""The launch spec parser, by table."""

from __future__ import annotations

from typing import Any

import pytest

from runners.errors import SpecError
from runners.spec import DirectorySource, GitSource, parse_spec

pytestmark = pytest.mark.unit

CREDENTIAL = "c" * 32


def base(**change: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "framework": "streamlit",
        "entry": "app.py",
        "prefix": "/dashboards/alice/demo/",
        "port": 9000,
        "credential": CREDENTIAL,
        "source": {"type": "directory", "root": "/home/alice", "path": "apps/sales"},
    }
    doc.update(change)
    return doc


def test_minimal_spec() -> None:
    spec = parse_spec(base())
    assert spec.framework == "streamlit"
    assert spec.source == DirectorySource(root="/home/alice", path="apps/sales")
    assert spec.host == "127.0.0.1" and spec.ready_timeout == 300.0 and spec.stop_grace == 5.0


def test_git_source_defaults() -> None:
    spec = parse_spec(
        base(source={"type": "git", "url": "https://h/r.git", "dest": "/tmp/c", "path": "./a//b"})
    )
    assert spec.source == GitSource(url="https://h/r.git", dest="/tmp/c", path="a/b")


def test_listen_address_from_the_environment() -> None:
    """On Kubernetes the runner listens on the pod's address, given by the downward API."""
    spec = parse_spec(base(host_env="POD_IP"), {"POD_IP": "10.1.2.3"})
    assert spec.host == "10.1.2.3"
    with pytest.raises(SpecError, match=r"spec.host_env names \$POD_IP, which is not set"):
        parse_spec(base(host_env="POD_IP"), {})
    with pytest.raises(SpecError, match="not a valid variable name"):
        parse_spec(base(host_env="1X"), {"1X": "h"})


def test_credential_from_environment() -> None:
    doc = base()
    del doc["credential"]
    assert parse_spec(doc, {"PODIUM_RUNNER_CREDENTIAL": "e" * 20}).credential == "e" * 20


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"framework": "flask"}, "unknown framework 'flask'"),
        ({"framework": "custom"}, "framework 'custom' needs a 'custom' object"),
        ({"prefix": "/no-trailing-slash"}, "spec.prefix must look like"),
        ({"prefix": "/a b/"}, "spec.prefix must look like"),
        ({"prefix": "/../"}, "spec.prefix must look like"),
        ({"prefix": "/dashboards/%2E%2E/x/"}, "spec.prefix must look like"),
        ({"prefix": "/dashboards/o'neil/x/"}, "spec.prefix must look like"),
        ({"prefix": "/dashboards/a%2/x/"}, "spec.prefix must look like"),
        ({"prefix": "/dashboards/a?b/x/"}, "spec.prefix must look like"),
        ({"prefix": "/dashboards/a%0/x/"}, "spec.prefix must look like"),
        ({"port": 70000}, "spec.port must be an integer"),
        ({"port": "80"}, "spec.port must be an integer"),
        ({"port": True}, "spec.port must be an integer"),
        ({"credential": "x"}, "a credential of at least 16 characters"),
        ({"entry": ""}, "spec.entry is required"),
        ({"entry": "a/../../b.py"}, "must not contain '..'"),
        ({"entry": "C:\\app.py"}, "must be relative"),
        ({"entry": "a\x00.py"}, "must not contain NUL"),
        ({"env": {"1BAD": "x"}}, "not a valid variable name"),
        ({"env": {"OK": 1}}, "spec.env.OK must be a string"),
        ({"env": []}, "spec.env must be an object"),
        ({"args": "--flag"}, "spec.args must be a list of strings"),
        ({"ready_timeout": 0}, "spec.ready_timeout must be a positive number"),
        ({"log_lines": 0}, "spec.log_lines must be a positive integer"),
        ({"extra": 1}, "unknown field(s) extra"),
        ({"source": {"type": "s3"}}, "source.type must be 'directory' or 'git'"),
        (
            {"source": {"type": "directory", "root": "relative"}},
            "source.root must be an absolute path",
        ),
        (
            {"source": {"type": "git", "url": "https://h/r", "dest": "rel"}},
            "source.dest must be an absolute",
        ),
        ({"source": {"type": "git", "dest": "/tmp/x"}}, "source.url is required"),
        (
            {"source": {"type": "git", "url": "https://h/r", "dest": "/x", "fetched": "yes"}},
            "source.fetched must be true or false",
        ),
        ({"custom": {"command": []}}, "custom.command must name a program"),
        (
            {"custom": {"command": ["x"], "strip_prefix": "yes"}},
            "custom.strip_prefix must be true or false",
        ),
    ],
)
def test_invalid_specs(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as error:
        parse_spec(base(**change), {})
    assert message in str(error.value)


def test_not_an_object() -> None:
    with pytest.raises(SpecError, match="expected an object"):
        parse_spec(["streamlit"])


@pytest.mark.parametrize(
    "owner", ["jane.doe@example.org", "o%27neil", "a%2Bb", "%C3%BCn%C3%AF", "x_y-z", "12345"]
)
def test_prefixes_the_gateway_builds_for_any_hub_user_are_accepted(owner: str) -> None:
    """The gateway spells owners as JupyterHub does (runners.names); the runner accepts it."""
    assert parse_spec(base(prefix=f"/dashboards/{owner}/q3/")).prefix == f"/dashboards/{owner}/q3/"
