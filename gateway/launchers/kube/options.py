"""The Kubernetes launcher's options (``c.KubeLauncher.…``), apart from the launcher.

Importing this costs nothing of kubernetes-asyncio (1.6 s of imports): the gateway's
configuration and ``--help`` need the options, and only a gateway that runs pods needs
the client (:mod:`gateway.launchers.kube.launcher`, whose ``PodLauncher`` adds the work).
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Dict, Enum, Float, Int, List, TraitError, Unicode, validate

from gateway.domain.dashboards import Dashboard
from gateway.launchers.base import Launcher, check_shared_names
from gateway.launchers.kube.names import SCHEMES, unknown_fields
from gateway.launchers.kube.placement import Placement, Profile
from runners import __version__
from runners.names import folder_name

REGISTRY = "quay.io"  # where releases are pushed (.github/workflows/images.yml; the chart)


class KubeLauncher(Launcher):
    namespace = Unicode(
        help="Namespace of the runner pods (default: the gateway's own, or the kubeconfig's)."
    ).tag(config=True)
    kubeconfig = Unicode(
        help="A kubeconfig file (default: $KUBECONFIG, else the in-cluster service account)."
    ).tag(config=True)
    image = Unicode(f"{REGISTRY}/podium/runner:{__version__}", help="The runner image.").tag(
        config=True
    )
    image_pull_policy = Enum(["Always", "IfNotPresent", "Never"], "IfNotPresent").tag(config=True)
    image_pull_secrets = List(Unicode(), help="Secrets for a private registry.").tag(config=True)
    storage = Enum(
        ["static", "per-user", "clone", "none"],
        "per-user",
        help="Where a storage source is found: 'static' (one claim, a sub-path per user), "
        "'per-user' (each user's claim, ReadWriteMany), 'clone' (a new claim per dashboard "
        "cloned from the user's), 'none' (git sources only).",
    ).tag(config=True)
    static_claim = Unicode("home-nfs", help="The claim of static storage.").tag(config=True)
    static_sub_path = Unicode(
        "{username}",
        help="A user's folder in static storage (Z2JH's singleuser.storage.static.subPath). "
        "Fields as kubespawner fills them: {username}, {user_server}, {escaped_username}, "
        "{unescaped_username} and the rest of kubespawner's, but {userid}.",
    ).tag(config=True)
    user_claim = Unicode(
        "claim-{user_server}",
        help="A user's claim, per-user storage and what clones copy (Z2JH's "
        "singleuser.storage.dynamic.pvcNameTemplate), filled as kubespawner fills it.",
    ).tag(config=True)
    slug_scheme = Enum(
        list(SCHEMES),
        "safe",
        help="How kubespawner turns usernames into names (its c.KubeSpawner.slug_scheme): "
        "'safe' (kubespawner 7, Z2JH 4 and later) or 'escape' (older).",
    ).tag(config=True)
    clone_storage_class = Unicode(
        help="Storage class of cloned claims (default: the source claim's, which CSI "
        "cloning requires)."
    ).tag(config=True)
    clone_size = Unicode(
        help="Size of a cloned claim (default: the source claim's; never less)."
    ).tag(config=True)
    source_writable = Bool(False, help="Mount the source read-write (read-only by default).").tag(
        config=True
    )
    shared_volumes = Dict(
        help="Volumes every user shares (Z2JH's singleuser.storage.extraVolumes: a hybrid "
        "setup), by name: {'team': {'claim': 'jupyterhub-shared', 'sub_path': ''}}. A "
        "dashboard's source may come from one, mounted read-only."
    ).tag(config=True)
    extra_volumes = List(Dict(), help="Volumes added to every runner pod.").tag(config=True)
    extra_volume_mounts = List(
        Dict(), help="Their mounts; '{username}' in strings becomes the owner's name."
    ).tag(config=True)
    profiles = List(
        Dict(),
        help="Resource profiles creators choose from: dicts with name, display_name, "
        "cpu_request, cpu_limit, memory_request, memory_limit, node_selector, tolerations, "
        "extra_resource_limits (e.g. {'nvidia.com/gpu': '1'}). The first is the default.",
    ).tag(config=True)
    node_purpose = Enum(
        ["prefer", "require", "ignore"],
        "prefer",
        help="Place runner pods on Zero to JupyterHub's user nodes as its user pods are "
        "(scheduling.userPods.nodeAffinity.matchNodePurpose; with their tolerations), or not.",
    ).tag(config=True)
    priority_class_name = Unicode(help="The runner pods' priorityClassName.").tag(config=True)
    scheduler_name = Unicode(
        help="The runner pods' schedulerName, e.g. Zero to JupyterHub's user-scheduler "
        "('<release>-user-scheduler'), which packs user pods on as few nodes as it can."
    ).tag(config=True)
    extra_labels = Dict(
        Unicode(), help="Labels added to every runner pod (Podium's own cannot be replaced)."
    ).tag(config=True)
    extra_annotations = Dict(
        Unicode(),
        help="Annotations added to every runner pod, e.g. cluster-autoscaler's "
        "{'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false'}.",
    ).tag(config=True)
    extra_pod_config = Dict(
        help="Fields merged into every runner pod's spec last (dicts key by key): for what "
        "no option covers. Podium's security settings can be changed here: take care."
    ).tag(config=True)
    gateway_labels = Dict(
        {"app.kubernetes.io/name": "podium", "app.kubernetes.io/component": "gateway"},
        help="Labels of the gateway's pods: the only pods the NetworkPolicy admits.",
    ).tag(config=True)
    network_policy = Bool(
        True,
        help="Create the runners' NetworkPolicy: connections from the gateway only; out to "
        "DNS and the public internet, not the cloud's metadata server or private addresses.",
    ).tag(config=True)
    egress_private_ips = Bool(
        False,
        help="Runner pods may also reach private addresses (10/8, 172.16/12, 192.168/16): "
        "an internal git server or database (Z2JH's singleuser egressAllowRules.privateIPs).",
    ).tag(config=True)
    git_secret = Unicode(
        help="A Secret with 'username' and 'password' for private git repositories."
    ).tag(config=True)
    layers_claim = Unicode(
        help="A claim (ReadWriteMany) where dashboards' requirements.txt layers are cached, "
        "a sub-path per owner; empty: requirements.txt is not installed on Kubernetes."
    ).tag(config=True)
    uid = Int(1000, help="The runner's user id (never 0).").tag(config=True)
    gid = Int(100, help="The runner's group id.").tag(config=True)
    fs_group = Int(100, help="The pod's fsGroup.").tag(config=True)
    port = Int(8888, help="The runner's port in its pod.").tag(config=True)
    mount_root = Unicode("/srv/podium", help="Where the pod mounts its source and spec.").tag(
        config=True
    )
    api_timeout = Float(10, help="Seconds any API call may take.").tag(config=True)
    stop_timeout = Float(45, help="Seconds to wait for a pod to be gone after deleting it.").tag(
        config=True
    )

    @validate("static_sub_path", "user_claim")
    def _fillable(self, proposal: Any) -> str:
        template = str(proposal["value"])
        unknown = unknown_fields(template)
        if unknown:
            raise TraitError(
                f"c.KubeLauncher.{proposal['trait'].name} = {template!r}: Podium cannot fill "
                f"{', '.join('{' + f + '}' for f in unknown)} (kubespawner's fields but {{userid}})"
            )
        return template

    @validate("profiles")
    def _profiles(self, proposal: Any) -> list[dict[str, Any]]:
        """Each profile a Profile whose quantities the API server will take (else the
        gateway stops at start, not each dashboard at its start)."""
        profiles = list(proposal["value"])
        for i, doc in enumerate(profiles):
            try:
                profile = Profile(**doc)
            except TypeError as e:
                raise TraitError(f"c.KubeLauncher.profiles[{i}]: {e}") from None
            problem = profile.problem()
            if problem:
                raise TraitError(f"c.KubeLauncher.profiles[{i}] ({profile.name}): {problem}")
        return profiles

    def in_environment(self, dashboard: Dashboard) -> dict[str, str]:
        """A plan's fields for the dashboard's environment: its image, the runner copied in."""
        env = self.environment(dashboard)
        if env is None:
            return {}
        return {"app_image": env.image, "app_python": env.python,
                "app_pull_policy": env.image_pull_policy}  # fmt: skip

    def layers(self, dashboard: Dashboard) -> dict[str, str]:
        """A plan's fields for the owner's requirements layers (c.KubeLauncher.layers_claim)."""
        if not (self.layers_claim and self.requirements):
            return {}
        return {"layers_claim": self.layers_claim, "layers_sub_path": folder_name(dashboard.owner)}

    def spec_extras(
        self, dashboard: Dashboard, layers_path: str, rebuild: bool = False
    ) -> dict[str, Any]:
        """The spec's environment (named: the runner checks it can run the app) and where
        requirements.txt's layers are cached (``rebuild``: made afresh)."""
        env = self.environment(dashboard)
        extras: dict[str, Any] = {"environment": env.name} if env else {}
        if self.layers(dashboard) and self.requirements is not None:
            extras["requirements"] = self.requirements.spec(layers_path, rebuild)
        return extras

    def placement(self) -> Placement:
        return Placement(
            node_purpose=self.node_purpose,
            priority_class=self.priority_class_name,
            scheduler=self.scheduler_name,
            annotations=dict(self.extra_annotations),
            pod_config=dict(self.extra_pod_config),
        )

    @validate("shared_volumes")
    def _shared(self, proposal: Any) -> dict[str, dict[str, str]]:
        volumes = dict(proposal["value"])
        check_shared_names("c.KubeLauncher.shared_volumes", volumes)
        for name, doc in volumes.items():
            where = f"c.KubeLauncher.shared_volumes[{name!r}]"
            if (
                not isinstance(doc, dict)
                or not isinstance(doc.get("claim"), str)
                or not doc["claim"]
            ):
                raise TraitError(f"{where} needs 'claim': the name of the shared claim")
            unknown = set(doc) - {"claim", "sub_path"}
            if unknown:
                raise TraitError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
            sub_path = doc.get("sub_path", "")
            if (
                not isinstance(sub_path, str)
                or sub_path.startswith("/")
                or ".." in sub_path.split("/")
            ):
                raise TraitError(f"{where}: sub_path must be a relative path without '..'")
        return volumes
