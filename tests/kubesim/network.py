"""The simulated pod network: NetworkPolicies enforced on every connection to a pod.

A pod's address (``status.podIP``, what clients dial) is a gate the kubelet opens for
each port its containers declare; the container itself listens on an inner loopback
address only the gate and the kubelet's probes use (``$POD_IP`` inside the pod is that
inner address, so the runner binds there). For each connection the gate finds the
process that opened it (its socket, as root), and from it the source: a pod when the
process belongs to one, else this machine — the tests' own processes, which play the
gateway's pod (``host_labels``: the labels the chart gives it). The namespace's
NetworkPolicies decide, both sides as Kubernetes defines it (tests/kubesim/netpol.py,
with each pod seen at a cluster address 10.244.x.y, so that ``ipBlock`` rules on private
ranges apply as they would); a refused connection is reset at once and recorded (a
real cluster drops its packets: the client times out).

What is not enforced: connections from pods to anything that is not a pod (this
machine's services, the internet) — pods share this machine's network; those egress
rules are evaluated in tests/kube/test_z2jh_policies.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import psutil

from tests.kubesim.netpol import Endpoint, allowed

Object = dict[str, Any]
HOST_IP = "10.244.255.2"  # where this machine's processes (the gateway's pod) appear
GATEWAY_LABELS = {"app.kubernetes.io/name": "podium", "app.kubernetes.io/component": "gateway"}


class Pod(Protocol):
    obj: Object
    ip: str
    inner: str
    process: asyncio.subprocess.Process | None


def cluster_ip(loopback: str) -> str:
    """The address policies see for a pod at ``127.n.a.b``: ``10.244.a.b``."""
    _, _, a, b = loopback.split(".")
    return f"10.244.{a}.{b}"


@dataclass(frozen=True)
class Refusal:
    source: str  # a pod's name, or "host"
    destination: str
    port: int


def _opener(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The pid of the process whose socket is ``peer`` connected to ``local``."""
    for conn in psutil.net_connections("tcp4"):
        if conn.laddr and tuple(conn.laddr) == peer and conn.raddr and tuple(conn.raddr) == local:
            return conn.pid
    return None


def _lineage(pid: int) -> set[int]:
    try:
        process = psutil.Process(pid)
        return {pid, *(p.pid for p in process.parents())}
    except psutil.Error:
        return {pid}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


class PodNetwork:
    def __init__(
        self,
        policies: Callable[[str], list[Object]],
        pods: Callable[[], Iterable[Pod]],
        namespace_of_host: str,
        host_labels: dict[str, str] | None = None,
    ) -> None:
        self.policies = policies
        self.pods = pods
        self.namespace_of_host = namespace_of_host
        self.host_labels = dict(GATEWAY_LABELS if host_labels is None else host_labels)
        self.refused: list[Refusal] = []
        self._gates: dict[int, list[asyncio.Server]] = {}

    async def open(self, pod: Pod) -> None:
        """A gate on the pod's address for each port its containers declare (once)."""
        if id(pod) in self._gates:
            return
        ports = [int(p["containerPort"]) for c in pod.obj["spec"]["containers"]
                 for p in c.get("ports") or [] if p.get("protocol", "TCP") == "TCP"]  # fmt: skip
        servers = self._gates.setdefault(id(pod), [])
        for port in ports:

            async def gate(
                r: asyncio.StreamReader, w: asyncio.StreamWriter, port: int = port
            ) -> None:
                await self._connection(pod, port, r, w)

            servers.append(await asyncio.start_server(gate, pod.ip, port, reuse_address=True))

    async def close(self, pod: Pod) -> None:
        for server in self._gates.pop(id(pod), []):
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)

    def source(self, pid: int | None) -> tuple[str, Endpoint]:
        """Who opened a connection: the pod its process belongs to, or this machine."""
        lineage = _lineage(pid) if pid else set()
        for pod in self.pods():
            if pod.process is not None and pod.process.pid in lineage:
                meta = pod.obj["metadata"]
                return meta["name"], Endpoint.of(pod.obj, cluster_ip(pod.ip), meta["namespace"])
        host = Endpoint(self.host_labels, HOST_IP, self.namespace_of_host,
                        {"kubernetes.io/metadata.name": self.namespace_of_host})  # fmt: skip
        return "host", host

    async def _connection(
        self, pod: Pod, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")[:2]
        pid = await asyncio.to_thread(_opener, tuple(peer), (pod.ip, port))
        name, source = self.source(pid)
        meta = pod.obj["metadata"]
        destination = Endpoint.of(pod.obj, cluster_ip(pod.ip), meta["namespace"])
        if not allowed(self.policies(meta["namespace"]), source, destination, port):
            self.refused.append(Refusal(name, meta["name"], port))
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError):  # a reset, not a polite close
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()
            return
        try:
            inner_reader, inner_writer = await asyncio.open_connection(pod.inner, port)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))
        finally:
            inner_writer.close()
            writer.close()
