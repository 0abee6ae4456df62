"""The configuration: a podium_config.py file read as an admin writes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Podium
from gateway.errors import Misconfigured

pytestmark = pytest.mark.unit


def load(tmp_path: Path, text: str) -> Podium:
    path = tmp_path / "podium_config.py"
    path.write_text(text)
    config = Podium()
    config.initialize(["-f", str(path)])
    config.load_config_file(config.config_file)
    return config


def test_profiles_offered_to_creators_come_from_the_kubernetes_launcher(tmp_path: Path) -> None:
    profiles = """
c.KubeLauncher.profiles = [{"name": "small"}, {"name": "gpu", "memory_limit": "16Gi"}]
"""
    local = load(tmp_path, profiles)
    assert local.rules().profiles == ()  # local runners have no profiles
    kube = load(tmp_path, profiles + 'c.Podium.launcher = "kubernetes"\n')
    assert kube.rules().profiles == ("small", "gpu")


def test_an_unknown_launcher_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        load(tmp_path, 'c.Podium.launcher = "nomad"\n')
    assert "expected any of ['local', 'kubernetes'], not the str 'nomad'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "line",
    [
        "c.Podium.max_websocket_message = -1",  # would close every WebSocket at once
        "c.Podium.viewer_request_rate = -5",
        "c.Podium.viewer_request_burst = 0",
        "c.Podium.viewer_websockets = -1",
        "c.Podium.restart_crashed_after = -60",
    ],
)
def test_limits_below_their_range_are_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    with pytest.raises(SystemExit):
        load(tmp_path, line + "\n")
    assert "should not be less than" in capsys.readouterr().err


def test_where_dashboards_are_served_is_a_choice_podium_does_not_make(tmp_path: Path) -> None:
    with pytest.raises(Misconfigured, match="dashboard_origin is not set"):
        load(tmp_path, "").origins()
    assert not load(tmp_path, 'c.Podium.dashboard_origin = "same-origin"\n').origins().isolated
    with pytest.raises(Misconfigured, match=r"needs c\.Podium\.public_url"):
        load(
            tmp_path, 'c.Podium.dashboard_origin = "https://{dashboard}.d.example.org"\n'
        ).origins()
    with pytest.raises(Misconfigured, match="first label"):
        load(tmp_path, 'c.Podium.dashboard_origin = "https://d.{dashboard}.org"\n').origins()
