"""What a dashboard's runner pod is made of: its plan (storage, profile, placement,
environment) and its launch specs, from the admin's options — no API calls here."""

from __future__ import annotations

import json
from typing import Any

from gateway.domain.dashboards import Dashboard
from gateway.launchers.base import LauncherError, git_source, runner_spec
from gateway.launchers.kube import names, options
from gateway.launchers.kube.manifests import RunnerPlan, Storage, object_name, spec_secret_name
from gateway.launchers.kube.placement import Profile


class PodPlans(options.KubeLauncher):
    """The runner pods' plans, configured by the options it inherits."""

    # --- plans -------------------------------------------------------------------------
    def profile(self, name: str = "") -> Profile:
        offered = [Profile(**p) for p in self.profiles] or [Profile()]
        return next((p for p in offered if p.name == name), offered[0])

    def named(self, template: str, owner: str) -> str:
        """A template filled for ``owner`` as kubespawner fills it (a claim, a sub-path)."""
        return names.expand(template, owner, self.slug_scheme, self.namespace)

    def _storage(self, dashboard: Dashboard, claim: str = "") -> Storage:
        owner = dashboard.owner
        claim = claim or self.named(self.user_claim, owner)
        if dashboard.source.type == "git":
            return Storage("git")
        if dashboard.source.volume:
            shared = self.shared_volumes.get(dashboard.source.volume)
            if shared is None:
                raise LauncherError(
                    f"this hub no longer shares a volume named {dashboard.source.volume!r}"
                )
            sub_path = self.named(shared.get("sub_path", ""), owner)
            return Storage("shared", shared["claim"], sub_path=sub_path)
        writable = self.source_writable
        if self.storage == "static":
            sub_path = self.named(self.static_sub_path, owner)
            return Storage("static", self.static_claim, sub_path=sub_path, writable=writable)
        if self.storage == "per-user":
            return Storage("per-user", claim, writable=writable)
        if self.storage == "clone":
            return Storage(
                "clone",
                object_name("clone", owner, dashboard.name),
                clone_from=claim,
                storage_class=self.clone_storage_class,
                size=self.clone_size,
                writable=True,  # the dashboard's own copy
            )
        raise LauncherError(
            "this hub runs dashboards from git only (c.KubeLauncher.storage = 'none')"
        )

    def plan(self, dashboard: Dashboard, launch_id: str, claim: str = "") -> RunnerPlan:
        def expand(value: Any) -> Any:
            if isinstance(value, str):
                return self.named(value, dashboard.owner)
            if isinstance(value, dict):
                return {k: expand(v) for k, v in value.items()}
            if isinstance(value, list):
                return [expand(v) for v in value]
            return value

        return RunnerPlan(
            owner=dashboard.owner,
            name=dashboard.name,
            namespace=self.namespace,
            launch_id=launch_id,
            image=self.image,
            storage=self._storage(dashboard, claim),
            profile=self.profile(dashboard.profile),
            spec_secret=spec_secret_name(dashboard.owner, dashboard.name, launch_id),
            image_pull_policy=self.image_pull_policy,
            image_pull_secrets=tuple(self.image_pull_secrets),
            port=self.port,
            uid=self.uid,
            gid=self.gid,
            fs_group=self.fs_group,
            mount_root=self.mount_root,
            url=dashboard.url(self.prefix),
            git_secret=self.git_secret,
            extra_volumes=tuple(expand(v) for v in self.extra_volumes),
            extra_volume_mounts=tuple(expand(m) for m in self.extra_volume_mounts),
            extra_labels=dict(self.extra_labels),
            placement=self.placement(),
            **self.in_environment(dashboard),
            **self.layers(dashboard),
        )

    def specs(
        self, dashboard: Dashboard, plan: RunnerPlan, credential: str, rebuild: bool = False
    ) -> tuple[str, str]:
        """The runner's spec and, for a git source, its clone's (the only one with the
        repository's login; the runner's says the clone is made). ``rebuild``: its
        requirements.txt installed afresh."""

        def spec(source: dict[str, Any]) -> str:
            return json.dumps(runner_spec(dashboard, prefix=self.prefix, source=source,
                port=self.port, credential=credential, ready_timeout=self.ready_timeout,
                crypt=self.crypt, host="0.0.0.0", host_env="POD_IP")
                | self.spec_extras(dashboard, plan.layers_path, rebuild))  # fmt: skip

        if plan.storage.mode != "git":
            return spec({"type": "directory", "root": plan.source_path,
                         "path": dashboard.source.path}), ""  # fmt: skip
        fetch = git_source(dashboard, f"{plan.source_path}/checkout", self.git_schemes,
                           self.git_hosts, self.git_internal, self.crypt)  # fmt: skip
        fetched = {k: v for k, v in fetch.items() if k not in ("username", "password")}
        return spec({**fetched, "fetched": True}), spec(fetch)
