"""The local launcher's start checks (gateway/launchers/confinement.py): the admin is told
what dashboards get, and what to do when this machine cannot give what is configured."""

from __future__ import annotations

import logging

import pytest

from gateway.launchers.confinement import check
from runners.netns import available
from runners.sandbox import abi

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(abi() < 1 or bool(available()), reason="no Landlock or namespaces"),
]
LOG = logging.getLogger("test")


def test_each_network_says_what_dashboards_get(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        for network in ("private", "isolated", "host"):
            assert check(True, network, LOG) == ""
    said = caplog.text
    assert "network: private" in said and "network: isolated" in said
    assert "'host': dashboards share this machine's network" in said  # a warning
    assert check(True, "public", LOG).startswith("c.LocalLauncher.network must be one of")


def test_private_without_pasta_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    why = check(True, "private", LOG)
    assert "pasta" in why and "apt install passt" in why and "'isolated'" in why
    assert check(True, "isolated", LOG) == ""  # no egress: no pasta needed


def test_unsandboxed_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    assert check(False, "private", LOG) == ""
    assert "sandbox is off" in caplog.text
