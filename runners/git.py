"""Git sources: URL policy, credential redaction and a shallow checkout of one ref.

Why so strict: a git URL is user input handed to a program that can run
arbitrary commands (``ext::``), read the runner's own disk (``file://``, local
paths) or take options (a leading ``-``). Only the transports the admin allows
pass, and git itself is told the same through ``GIT_ALLOW_PROTOCOL`` so that
redirects and submodules cannot widen it.

A git URL is also a request the gateway's side makes for a creator: to the cloud's
metadata server (169.254.169.254), a service on loopback or on the private network.
A host that is, or resolves to, such an address is refused unless the admin named
it (``c.Podium.git_internal_hosts``): at create, and again right before the clone
(DNS may answer differently by then).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from runners.errors import SourceError, SpecError
from runners.spec import GitSource

_SCHEME_ALIASES = {"git+ssh": "ssh", "ssh+git": "ssh"}
_SCP_LIKE = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._~-]+)@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$"
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_HEX_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")


def redact(text: str) -> str:
    """Hide the user-info part (``user:token@``) of every URL in ``text``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def check_git_url(
    url: str, allowed_schemes: tuple[str, ...], allowed_hosts: tuple[str, ...]
) -> str:
    """Return the transport of ``url`` (https, ssh, …) or raise :class:`SpecError`."""
    shown = redact(url)
    if not url or url.startswith("-"):
        raise SpecError(f"git URL {shown!r} is empty or starts with '-'")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise SpecError("git URL must not contain spaces or control characters")
    if "::" in url.split("/", 1)[0]:
        raise SpecError(
            f"git URL {shown!r} uses a transport helper ('<helper>::'), which is not allowed"
        )
    if "://" in url:
        parts = urlsplit(url)
        scheme = _SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
        host = (parts.hostname or "").lower()
        if scheme == "file" or not host:
            raise SpecError(f"git URL {shown!r} points at local files, which is not allowed")
    else:
        m = _SCP_LIKE.match(url)
        if not m:
            raise SpecError(f"git URL {shown!r} is neither scheme://host/path nor user@host:path")
        scheme, host = "ssh", m.group("host").lower()
    if host.startswith("-"):
        raise SpecError(f"git URL {shown!r} has a host starting with '-'")
    if scheme not in allowed_schemes:
        raise SpecError(
            f"git URL scheme {scheme!r} is not allowed; use one of: {', '.join(allowed_schemes)}"
        )
    if allowed_hosts and host not in {h.lower() for h in allowed_hosts}:
        raise SpecError(f"git host {host!r} is not in the allowed list: {', '.join(allowed_hosts)}")
    return scheme


def url_host(url: str) -> str:
    """The host of a git URL (``scheme://host/…`` or ``user@host:path``), lower case."""
    if "://" in url:
        return (urlsplit(url).hostname or "").lower()
    m = _SCP_LIKE.match(url)
    return m.group("host").lower() if m else ""


def internal(address: str) -> bool:
    """Whether an IP address is not on the public internet: loopback, link-local (the
    metadata server), private, shared (CGNAT), reserved, multicast, unspecified."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global


def check_literal_host(host: str, internal_hosts: tuple[str, ...]) -> None:
    """Refuse a host written as an internal IP address (no DNS needed)."""
    try:
        literal = internal(host.strip("[]"))
    except ValueError:
        return  # a name: see check_resolved_host
    if literal and host not in internal_hosts:
        raise SpecError(
            f"git host {host} is an internal address; an admin may allow it "
            "(c.Podium.git_internal_hosts)"
        )


async def check_resolved_host(
    host: str, internal_hosts: tuple[str, ...], *, timeout: float = 5, strict: bool = True
) -> None:
    """Refuse a host that resolves to an internal address (unless the admin allowed it).
    A name that does not resolve passes when not ``strict`` (the clone then says so)."""
    check_literal_host(host, internal_hosts)
    if host in internal_hosts:
        return
    try:
        async with asyncio.timeout(timeout):
            found = await asyncio.get_running_loop().getaddrinfo(
                host.strip("[]"), None, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError):
        if strict:
            raise SourceError(f"git host {host} cannot be resolved") from None
        return
    for *_, address in found:
        if internal(str(address[0])):
            raise SpecError(
                f"git host {host} resolves to an internal address ({address[0]}); an admin "
                "may allow it (c.Podium.git_internal_hosts)"
            )


def check_ref(ref: str) -> str:
    if ref and (not _REF.match(ref) or ".." in ref or ref.endswith((".lock", "/"))):
        raise SpecError(f"git ref {ref!r} is not a valid branch, tag or commit name")
    return ref


# Private repositories: credentials from the environment (on Kubernetes, a Secret's keys),
# answered by a credential helper, so they never appear in a URL, a command line or a log.
USERNAME_ENV = "PODIUM_GIT_USERNAME"
PASSWORD_ENV = "PODIUM_GIT_PASSWORD"  # noqa: S105 (a variable's name)
_HELPER = (
    f'!f() {{ test "$1" = get || exit 0; echo "username=${{{USERNAME_ENV}}}"; '
    f'echo "password=${{{PASSWORD_ENV}}}"; }}; f'
)


def git_environment(base: Mapping[str, str], scheme_allow: tuple[str, ...]) -> dict[str, str]:
    """The environment for git: no prompts, only the allowed transports."""
    env = {k: v for k, v in base.items() if not k.startswith("GIT_")}
    protocols = {_SCHEME_ALIASES.get(s, s) for s in scheme_allow}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ALLOW_PROTOCOL=":".join(sorted(protocols)),
        GIT_SSH_COMMAND="ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
        GIT_CONFIG_NOSYSTEM="1",
        LC_ALL="C",
    )
    if base.get(PASSWORD_ENV):
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="credential.helper",
            GIT_CONFIG_VALUE_0=_HELPER,
        )
    return env


async def _git(args: list[str], env: Mapping[str, str], cwd: str | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await proc.communicate()
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    text = redact(out.decode("utf-8", "replace"))
    if proc.returncode != 0:
        raise SourceError(
            f"git {args[0]} failed (exit {proc.returncode})", log_tail=text.splitlines()[-20:]
        )
    return text


async def checkout(source: GitSource, environ: Mapping[str, str]) -> str:
    """Fetch ``source.ref`` (shallow where the server allows) into ``source.dest``.

    Returns the commit checked out. Raises :class:`SourceError` on any git
    failure or when ``source.timeout`` passes.
    """
    scheme = check_git_url(source.url, source.allowed_schemes, source.allowed_hosts)
    ref = check_ref(source.ref)
    await check_resolved_host(url_host(source.url), source.internal_hosts)
    if os.path.exists(source.dest) and os.listdir(source.dest):
        raise SourceError(f"the clone destination {source.dest} is not empty")
    env = git_environment(environ, (scheme,))
    try:
        async with asyncio.timeout(source.timeout):
            await _git(["init", "-q", "--", source.dest], env)
            await _git(["remote", "add", "origin", source.url], env, source.dest)
            try:
                await _git(
                    ["fetch", "-q", "--depth", "1", "--", "origin", ref or "HEAD"], env, source.dest
                )
                target = "FETCH_HEAD"
            except SourceError:
                if not _HEX_SHA.match(ref):
                    raise
                # A commit the server will not serve by id (or an abbreviated id):
                # fall back to the full history and let git resolve it.
                await _git(["fetch", "-q", "--tags", "--", "origin"], env, source.dest)
                target = ref
            await _git(
                ["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", target, "--"],
                env,
                source.dest,
            )
            return (await _git(["rev-parse", "HEAD"], env, source.dest)).strip()
    except TimeoutError:
        raise SourceError(
            f"git clone of {redact(source.url)} did not finish within {source.timeout:.0f} s"
        ) from None
    except SourceError as e:
        raise SourceError(
            f"could not fetch {ref or 'the default branch'} of {redact(source.url)}: {e.message}",
            log_tail=e.log_tail,
        ) from None
