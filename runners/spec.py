"""The launch spec: one JSON document that says everything a runner needs.

The schema is documented in docs/runner.md. Parsing is pure and strict: an
unknown key, a wrong type or an unsafe value is a :class:`SpecError` naming
the field, so a typo in a launcher never turns into a silently ignored option.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runners.errors import SpecError
from runners.names import is_canonical
from runners.recipes import RECIPES, CustomCommand  # the recipe table names the frameworks
from runners.sandbox import Sandbox, parse_sandbox

SPEC_ENV = "PODIUM_LAUNCH_SPEC"
SPEC_FILE_ENV = "PODIUM_LAUNCH_SPEC_FILE"
CREDENTIAL_ENV = "PODIUM_RUNNER_CREDENTIAL"
MIN_CREDENTIAL_LENGTH = 16

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DIRECT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


@dataclass(frozen=True)
class DirectorySource:
    """Files already on disk: ``root`` is the boundary, ``path`` the dashboard's folder in it."""

    root: str
    path: str = ""


@dataclass(frozen=True)
class GitSource:
    """A repository to clone into ``dest``; ``path`` is the working folder inside it."""

    url: str
    dest: str
    ref: str = ""
    path: str = ""
    allowed_schemes: tuple[str, ...] = ("https", "ssh")
    allowed_hosts: tuple[str, ...] = ()
    internal_hosts: tuple[str, ...] = ()  # hosts that may be internal addresses (admin's)
    timeout: float = 300.0
    username: str = ""  # a private repository's login (the dashboard's secret), for git only
    password: str = field(default="", repr=False)
    fetched: bool = False  # cloned already, by ``podium-runner --fetch`` (a pod's init container)


Source = DirectorySource | GitSource


@dataclass(frozen=True)
class Requirements:
    """``requirements``: where requirements.txt's layers are cached (runners.layers),
    and the admin's pip policy."""

    cache: str
    pip_args: tuple[str, ...] = ()
    timeout: float = 600.0
    max_bytes: int = 2 * 2**30
    rebuild: bool = False
    max_total: int = 8 * 2**30  # all of the owner's layers (runners.room)
    made: bool = False  # --layer-made: an init container made it; never installed here


@dataclass(frozen=True)
class LaunchSpec:
    framework: str
    source: Source
    prefix: str
    port: int
    credential: str
    entry: str = ""
    host: str = "127.0.0.1"
    env: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    custom: CustomCommand | None = None
    ready_timeout: float = 300.0
    stop_grace: float = 5.0
    log_lines: int = 60
    sandbox: Sandbox | None = None  # Landlock around the framework (runners.sandbox)
    python: str = ""  # the app's interpreter (an environment's); "": the runner's own
    environment: str = ""  # that environment's name, for messages
    requirements: Requirements | None = None  # requirements.txt's layers (runners.layers)
    direct: str = ""  # an abstract Unix socket's name: the gateway's (runners.direct)


def _take(doc: Mapping[str, Any], where: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise SpecError(f"{where}: expected an object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - known)
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return dict(doc)


def _str(doc: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if value is None:
        raise SpecError(f"{where}.{key} is required")
    if not isinstance(value, str):
        raise SpecError(f"{where}.{key} must be a string")
    if "\x00" in value:
        raise SpecError(f"{where}.{key} must not contain NUL characters")
    return value


def _number(doc: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SpecError(f"{where}.{key} must be a positive number")
    return float(value)


def _flag(doc: Mapping[str, Any], key: str, where: str) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise SpecError(f"{where}.{key} must be true or false")
    return value


def _strings(doc: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}.{key} must be a list of strings")
    return tuple(value)


MAX_PATH = 1024  # a path inside a dashboard's source: far below the system's 4096
MAX_NAME = 255  # bytes of one file or folder name, as every Linux file system allows


def relative_path(value: str, what: str) -> str:
    """Check that ``value`` is a plain relative path (no ``..``, not absolute, no control
    characters: a NUL byte would end the path early in every system call)."""
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise SpecError(f"{what} must not contain control characters")
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        raise SpecError(f"{what} must be relative, got an absolute path")
    parts = [p for p in value.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SpecError(f"{what} must not contain '..'")
    if len(value) > MAX_PATH or any(len(p.encode()) > MAX_NAME for p in parts):
        raise SpecError(
            f"{what} is too long (at most {MAX_PATH} characters, {MAX_NAME} bytes a name)"
        )
    return "/".join(parts)


def prefix_ok(prefix: str) -> bool:
    """``/a/b/``: segments as the gateway spells them (an owner like ``o%27neil`` or
    ``jane.doe@example.org``), so never ``.``/``..``, a space, ``?``, ``#``, a control
    character or a malformed escape. ``/`` alone is a prefix too."""
    if not (prefix.startswith("/") and prefix.endswith("/")):
        return False
    return prefix == "/" or all(is_canonical(s) for s in prefix[1:-1].split("/"))


def _parse_source(doc: Any) -> Source:
    if not isinstance(doc, Mapping):
        raise SpecError("source must be an object")
    kind = doc.get("type")
    if kind == "directory":
        d = _take(doc, "source", {"type", "root", "path"})
        root = _str(d, "root", "source")
        if not os.path.isabs(root):
            raise SpecError("source.root must be an absolute path")
        return DirectorySource(
            root=root, path=relative_path(_str(d, "path", "source", ""), "source.path")
        )
    if kind == "git":
        known = {
            "type", "url", "dest", "ref", "path", "allowed_schemes", "allowed_hosts",
            "internal_hosts", "username", "password", "fetched",
        }  # fmt: skip
        d = _take(doc, "source", known | {"timeout"})
        dest = _str(d, "dest", "source")
        if not os.path.isabs(dest):
            raise SpecError("source.dest must be an absolute path")
        schemes = _strings(d, "allowed_schemes", "source") or ("https", "ssh")
        return GitSource(
            url=_str(d, "url", "source"),
            dest=dest,
            ref=_str(d, "ref", "source", ""),
            path=relative_path(_str(d, "path", "source", ""), "source.path"),
            allowed_schemes=schemes,
            allowed_hosts=_strings(d, "allowed_hosts", "source"),
            internal_hosts=_strings(d, "internal_hosts", "source"),
            timeout=_number(d, "timeout", "source", 300.0),
            username=_str(d, "username", "source", ""),
            password=_str(d, "password", "source", ""),
            fetched=_flag(d, "fetched", "source"),
        )
    raise SpecError("source.type must be 'directory' or 'git'")


def _parse_custom(doc: Any) -> CustomCommand:
    d = _take(doc, "custom", {"command", "strip_prefix", "ready_path"})
    command = _strings(d, "command", "custom")
    if not command:
        raise SpecError("custom.command must name a program")
    strip = d.get("strip_prefix", False)
    if not isinstance(strip, bool):
        raise SpecError("custom.strip_prefix must be true or false")
    return CustomCommand(
        command=command,
        strip_prefix=strip,
        ready_path=relative_path(_str(d, "ready_path", "custom", ""), "custom.ready_path"),
    )


def parse_requirements(doc: Any) -> Requirements:
    known = {"cache", "pip_args", "timeout", "max_bytes", "rebuild", "max_total"}
    if not isinstance(doc, Mapping) or set(doc) - known:
        raise SpecError(f"spec.requirements must be an object with {', '.join(sorted(known))}")
    cache, args = doc.get("cache"), doc.get("pip_args", [])
    if not isinstance(cache, str) or not os.path.isabs(cache):
        raise SpecError("spec.requirements.cache must be an absolute path")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise SpecError("spec.requirements.pip_args must be a list of strings")
    timeout, size = doc.get("timeout", 600.0), doc.get("max_bytes", 2 * 2**30)
    total = doc.get("max_total", 8 * 2**30)
    for name, value in (("timeout", timeout), ("max_bytes", size), ("max_total", total)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise SpecError(f"spec.requirements.{name} must be a positive number")
    if not isinstance(doc.get("rebuild", False), bool):
        raise SpecError("spec.requirements.rebuild must be true or false")
    return Requirements(
        cache, tuple(args), float(timeout), int(size), doc.get("rebuild", False), int(total)
    )


def parse_spec(doc: Any, environ: Mapping[str, str] | None = None) -> LaunchSpec:
    """Validate a decoded launch spec; the credential may come from ``environ``."""
    known = {
        "framework",
        "source",
        "prefix",
        "host",
        "host_env",
        "port",
        "credential",
        "entry",
        "env",
        "args",
        "custom",
        "ready_timeout",
        "stop_grace",
        "log_lines",
        "sandbox",
        "python",
        "environment",
        "requirements",
        "direct",
    }
    d = _take(doc, "spec", known)
    framework = _str(d, "framework", "spec")
    if framework not in RECIPES:
        names = ", ".join(sorted(RECIPES))
        raise SpecError(f"unknown framework {framework!r}; known: {names}")
    custom = _parse_custom(d["custom"]) if "custom" in d else None
    if framework == "custom" and custom is None:
        raise SpecError("framework 'custom' needs a 'custom' object with a command")

    prefix = _str(d, "prefix", "spec")
    if not prefix_ok(prefix):
        raise SpecError(
            "spec.prefix must look like /a/b/ (slashes around URL segments spelt as the "
            f"gateway spells them: jane.doe@example.org, o%27neil), not {prefix!r}"
        )

    port = d.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise SpecError("spec.port must be an integer between 0 and 65535")

    credential = d.get("credential") or (environ or {}).get(CREDENTIAL_ENV, "")
    if not isinstance(credential, str) or len(credential) < MIN_CREDENTIAL_LENGTH:
        raise SpecError(
            f"a credential of at least {MIN_CREDENTIAL_LENGTH} characters is required "
            f"(spec.credential or ${CREDENTIAL_ENV})"
        )

    env = d.get("env", {})
    if not isinstance(env, Mapping):
        raise SpecError("spec.env must be an object of strings")
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise SpecError(f"spec.env: {key!r} is not a valid variable name")
        if not isinstance(value, str) or "\x00" in value:
            raise SpecError(f"spec.env.{key} must be a string")

    entry = relative_path(_str(d, "entry", "spec", ""), "spec.entry")
    if not entry and framework != "custom":
        raise SpecError(f"spec.entry is required for framework {framework!r}")

    host = _str(d, "host", "spec", "127.0.0.1")
    host_env = _str(d, "host_env", "spec", "")
    if host_env:
        # On Kubernetes the pod's own address comes from the downward API ($POD_IP).
        if not _ENV_NAME.match(host_env):
            raise SpecError(f"spec.host_env: {host_env!r} is not a valid variable name")
        host = (environ or {}).get(host_env, "")
        if not host:
            raise SpecError(f"spec.host_env names ${host_env}, which is not set")

    log_lines = d.get("log_lines", 60)
    if isinstance(log_lines, bool) or not isinstance(log_lines, int) or log_lines < 1:
        raise SpecError("spec.log_lines must be a positive integer")

    direct = _str(d, "direct", "spec", "")
    if direct and not _DIRECT_NAME.fullmatch(direct):
        raise SpecError(
            "spec.direct must be a name of at most 100 letters, digits, '.', '_' or '-', "
            f"not {direct!r}"
        )

    python = _str(d, "python", "spec", "")
    if python and not python.startswith("/"):
        raise SpecError(f"spec.python must be an absolute path, not {python!r}")

    return LaunchSpec(
        direct=direct,
        python=python,
        environment=_str(d, "environment", "spec", ""),
        framework=framework,
        source=_parse_source(d.get("source")),
        prefix=prefix,
        port=port,
        credential=credential,
        entry=entry,
        host=host,
        env=dict(env),
        args=_strings(d, "args", "spec"),
        custom=custom,
        ready_timeout=_number(d, "ready_timeout", "spec", 300.0),
        stop_grace=_number(d, "stop_grace", "spec", 5.0),
        log_lines=log_lines,
        sandbox=parse_sandbox(d["sandbox"]) if "sandbox" in d else None,
        requirements=parse_requirements(d["requirements"]) if "requirements" in d else None,
    )


def load_spec(argv_file: str | None, environ: Mapping[str, str]) -> LaunchSpec:
    """Read the spec from a file named on the command line or in the environment."""
    path = argv_file or environ.get(SPEC_FILE_ENV)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise SpecError(f"cannot read the launch spec {path}: {e.strerror}") from e
    elif environ.get(SPEC_ENV):
        text = environ[SPEC_ENV]
    else:
        raise SpecError(f"no launch spec: pass --spec FILE or set ${SPEC_ENV}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"the launch spec is not valid JSON: {e}") from e
    return parse_spec(doc, environ)
