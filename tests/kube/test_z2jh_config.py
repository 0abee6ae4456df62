"""The Zero to JupyterHub `config.yaml` snippet docs/kubernetes.md gives admins, merged with
the chart's defaults and validated against the chart's own values schema (as helm does),
and consistent with what Podium's chart expects of it."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
Z2JH = Path(__file__).resolve().parent / "z2jh"


def docs_snippet() -> dict[str, Any]:
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    section = text.split("## Install with Helm", 1)[1].split("## ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, "the Helm section has no config.yaml snippet"
    return dict(yaml.safe_load(textwrap.dedent(block.group(1))))


def merged(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {k: merged(base.get(k), extra[k]) if k in base else extra[k] for k in extra} | {
            k: v for k, v in base.items() if k not in extra
        }
    return extra


def test_the_snippet_is_valid_z2jh_configuration() -> None:
    schema = json.loads((Z2JH / "values.schema.json").read_text())
    values = merged(yaml.safe_load((Z2JH / "values.yaml").read_text()), docs_snippet())
    jsonschema.validate(values, schema)


def test_a_typo_in_the_snippet_would_be_caught() -> None:
    schema = json.loads((Z2JH / "values.schema.json").read_text())
    snippet = docs_snippet()
    snippet["hub"]["servicess"] = snippet["hub"].pop("services")
    values = merged(yaml.safe_load((Z2JH / "values.yaml").read_text()), snippet)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(values, schema)


def test_the_snippet_matches_podiums_chart() -> None:
    """The service's name, client id, URL and route are the ones the chart uses."""
    chart = yaml.safe_load((ROOT / "deploy/helm/podium/values.yaml").read_text())
    name = chart["hub"]["serviceName"]
    service = docs_snippet()["hub"]["services"][name]
    assert service["oauth_client_id"] == f"service-{name}"
    assert service["url"] == "http://podium:8765"  # the chart's Service, its port
    assert "apiToken" not in service and "api_token" not in service  # Z2JH makes it
    assert "podium" in docs_snippet()["hub"]["loadRoles"]


def environment_snippets() -> tuple[dict[str, Any], dict[str, Any]]:
    """docs/kubernetes.md's "Environments": Z2JH's profiles, then Podium's chart values."""
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    section = text.split("## Environments", 1)[1].split("\n## ", 1)[0]
    z2jh, podium = re.findall(r"```yaml\n(.*?)```", section, re.S)
    return dict(yaml.safe_load(z2jh)), dict(yaml.safe_load(podium))


def test_the_environments_snippets_are_valid_and_offer_the_hubs_images() -> None:
    z2jh, podium = environment_snippets()
    schema = json.loads((Z2JH / "values.schema.json").read_text())
    jsonschema.validate(merged(yaml.safe_load((Z2JH / "values.yaml").read_text()), z2jh), schema)
    chart = ROOT / "deploy" / "helm" / "podium"
    ours = json.loads((chart / "values.schema.json").read_text())
    jsonschema.validate(merged(yaml.safe_load((chart / "values.yaml").read_text()), podium), ours)
    profiles = {p["kubespawner_override"]["image"] for p in z2jh["singleuser"]["profileList"]}
    assert {e["image"] for e in podium["environments"]} == profiles
    with pytest.raises(jsonschema.ValidationError):  # the test can fail: a typo is caught
        jsonschema.validate({"environments": [{"name": "x", "imge": "y"}]}, ours)
