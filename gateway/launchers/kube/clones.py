"""The owner's claim (:func:`owners_claim`), and clone mode's: a dashboard's own copy of
its owner's claim (CSI volume cloning).

The clone takes the source claim's storage class and size, which CSI cloning requires,
unless the admin names others. It is created with the runner pod and not waited for:
with a WaitForFirstConsumer class (GKE's, AKS's and EKS's default) it is provisioned only
once the pod exists. A driver's refusal shows as an event of the claim, which
:func:`problem` reads while the pod waits.
"""

from __future__ import annotations

from dataclasses import replace

from kubernetes_asyncio import client

from gateway.launchers.base import LauncherError
from gateway.launchers.kube import names
from gateway.launchers.kube.apiserver import KubeApi, api_message
from gateway.launchers.kube.manifests import RunnerPlan, make_clone_pvc, object_name
from gateway.launchers.kube.status import no_claim

CLAIM = "PersistentVolumeClaim"


async def owners_claim(api: KubeApi, template: str, owner: str, scheme: names.Scheme) -> str:
    """The owner's claim. On a hub upgraded to kubespawner 7 the users from before keep
    their claim's old ("escape") name (kubespawner keeps it in their server's state): the
    safe name when that claim exists, else the old one when that one does."""
    safe = names.expand(template, owner, scheme, api.namespace)
    if scheme != "safe" or await _exists(api, safe):
        return safe
    old = names.expand(template, owner, "escape", api.namespace)
    return old if old != safe and await _exists(api, old) else safe


async def _exists(api: KubeApi, claim: str) -> bool:
    try:
        return await api.read(CLAIM, claim) is not None
    except client.ApiException as e:
        raise LauncherError(f"cannot read the claim {claim}: {api_message(e)}") from e


async def ensure(api: KubeApi, plan: RunnerPlan, storage_class: str = "", size: str = "") -> None:
    """The plan's clone claim, made unless it is there (one that failed is made afresh)."""
    storage = plan.storage
    try:
        source = await api.read(CLAIM, storage.clone_from)
    except client.ApiException as e:
        raise LauncherError(f"cannot read {storage.clone_from}: {api_message(e)}") from e
    if source is None:
        raise LauncherError(no_claim(storage.clone_from))
    spec = source.get("spec") or {}
    capacity = (source.get("status") or {}).get("capacity") or {}
    requested = (spec.get("resources") or {}).get("requests") or {}
    clone = replace(
        storage,
        storage_class=storage_class or spec.get("storageClassName") or "",
        size=size or capacity.get("storage") or requested.get("storage", "1Gi"),
    )
    try:
        if await problem(api, plan.owner, plan.name):  # a failed one: try afresh
            await api.delete(CLAIM, storage.claim)
        await api.create(CLAIM, make_clone_pvc(replace(plan, storage=clone)))  # or reuse it
    except client.ApiException as e:
        raise LauncherError(f"cannot clone {storage.clone_from}: {api_message(e)}") from e


async def problem(api: KubeApi, owner: str, name: str) -> str:
    """Why the dashboard's clone cannot be provisioned, if its driver said so (of this
    claim: an earlier one of the name, deleted, has events of its own)."""
    claim_name = object_name("clone", owner, name)
    claim = await api.read(CLAIM, claim_name)
    if claim is None or (claim.get("status") or {}).get("phase") == "Bound":
        return ""
    uid = claim["metadata"].get("uid")
    for event in await api.events_of(claim_name):
        if (event.get("involvedObject") or {}).get("uid") not in (None, "", uid):
            continue
        if event.get("reason") == "ProvisioningFailed":
            why = event.get("message", "provisioning failed")
            return (
                f"the storage cannot be cloned ({why}); ask an admin to use a storage "
                "class that supports volume cloning, or the per-user storage mode"
            )
    return ""
