# The gateway's configuration, from the chart's values (values.json beside this file).
import json
import os
from pathlib import Path

here = Path(__file__).parent
v = json.loads((here / "values.json").read_text())
c = get_config()  # noqa: F821 (traitlets gives a config file get_config and load_subconfig)

c.Podium.ip = "0.0.0.0"
c.Podium.port = 8765
c.Podium.hub_api_url = v["hub"]["apiUrl"]
c.Podium.hub_url = v["hub"]["url"]
c.Podium.service_name = v["hub"]["serviceName"]
c.Podium.client_id = "service-" + v["hub"]["serviceName"]
c.Podium.api_token = os.environ["PODIUM_HUB_TOKEN"]
c.Podium.cookie_secret_file = "/srv/podium-secret/cookie_secret"  # noqa: S105 (a path)
c.Podium.db_url = os.environ.get("PODIUM_DB_URL") or "sqlite:////srv/podium-data/podium.sqlite"
# The /dashboards/ route in configurable-http-proxy, kept by the gateway unless an Ingress
# sends the shareable links to it directly (ingress.dashboardsPath).
c.Podium.proxy_api_url = v["proxy"]["apiUrl"] if v["keepProxyRoute"] else ""
c.Podium.proxy_auth_token = os.environ.get("CONFIGPROXY_AUTH_TOKEN", "")  # only to keep it
c.Podium.proxy_target = v["proxyTarget"]
c.Podium.public_url = v["publicUrl"]
c.Podium.dashboard_origin = v["dashboardOrigin"]
c.Podium.launcher = "kubernetes"

storage, runners = v["storage"], v["runners"]
c.KubeLauncher.namespace = os.environ["POD_NAMESPACE"]
c.KubeLauncher.image = v["runnerImage"]
c.KubeLauncher.image_pull_policy = v["imagePullPolicy"]
c.KubeLauncher.image_pull_secrets = v["imagePullSecrets"]
c.KubeLauncher.storage = storage["mode"]
c.KubeLauncher.user_claim = storage["userClaim"]
c.KubeLauncher.static_claim = storage["staticClaim"]
c.KubeLauncher.static_sub_path = storage["staticSubPath"]
c.KubeLauncher.slug_scheme = storage["slugScheme"]
c.KubeLauncher.source_writable = storage["sourceWritable"]
c.KubeLauncher.clone_storage_class = storage["cloneStorageClass"]
c.KubeLauncher.clone_size = storage["cloneSize"]
c.KubeLauncher.extra_volumes = storage["extraVolumes"]
c.KubeLauncher.extra_volume_mounts = storage["extraVolumeMounts"]
c.KubeLauncher.shared_volumes = {
    name: {"claim": shared["claim"], "sub_path": shared.get("subPath", "")}
    for name, shared in storage["sharedVolumes"].items()
}
c.KubeLauncher.profiles = v["profiles"]
c.Podium.environments = [
    {
        "name": e["name"],
        "description": e.get("description", ""),
        "image": e["image"],
        "python": e.get("python", "python3"),
        "image_pull_policy": e.get("imagePullPolicy", ""),
    }
    for e in v["environments"]
]
requirements = v["requirements"]
c.KubeLauncher.layers_claim = requirements["cacheClaim"]
c.Podium.pip_args = requirements["pipArgs"]
c.Podium.requirements_timeout = requirements["timeout"]
c.Podium.requirements_max_size = requirements["maxSizeMB"]
c.Podium.requirements_max_total = requirements["maxTotalMB"]
c.KubeLauncher.node_purpose = runners["nodePurpose"]
c.KubeLauncher.priority_class_name = runners["priorityClassName"]
c.KubeLauncher.scheduler_name = runners["schedulerName"]
c.KubeLauncher.extra_labels = runners["extraLabels"]
c.KubeLauncher.extra_annotations = runners["extraAnnotations"]
c.KubeLauncher.extra_pod_config = runners["extraPodConfig"]
c.KubeLauncher.network_policy = runners["networkPolicy"]
c.KubeLauncher.egress_private_ips = runners["egressPrivateIPs"]
c.KubeLauncher.gateway_labels = v["gatewayLabels"]

if (here / "extra_config.py").exists():
    load_subconfig(str(here / "extra_config.py"))  # noqa: F821
