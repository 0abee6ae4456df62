"""``podium-runner``: prepare the source, start the framework, guard it, stop it cleanly."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TextIO

import relay
from relay.policy import Target
from runners import __version__, environment, layers, recipes, reqlines
from runners.contract import NETWORK_ENV, PORTS_ENV
from runners.direct import DirectListener
from runners.errors import (
    BindError,
    FrameworkExited,
    RequirementsFailed,
    RunnerError,
    SourceError,
    SpecError,
)
from runners.framework import Framework, become_subreaper, framework_environ, kill_descendants
from runners.guard import Guard
from runners.netns import Door
from runners.ports import free_loopback_port, free_port_in
from runners.readiness import wait_ready
from runners.sandbox import Ready, abi, describe
from runners.sandbox import prepare as prepare_rules
from runners.source import PreparedSource, fetch, inside, prepare, read_unlinked
from runners.spec import GitSource, LaunchSpec, load_spec


def say(message: str) -> None:
    print(f"podium-runner: {message}", file=sys.stderr, flush=True)


TERMINATION_LOG = "/dev/termination-log"  # Kubernetes shows it in the pod's status


def report(error: RunnerError) -> None:
    """The error line the launcher shows the owner (after ``podium-runner: error: ``)."""
    message = error.message
    if isinstance(error, SpecError):  # exit code 2: the same spec fails the same way again
        message = f"the launch spec was refused: {message}"
    say(f"error: {message}")
    if os.path.exists(TERMINATION_LOG):
        with contextlib.suppress(OSError), open(TERMINATION_LOG, "w") as f:
            f.write(message)
    if error.log_tail:
        say(f"last {len(error.log_tail)} lines of output:")
        for line in error.log_tail:
            print(f"    | {line}", file=sys.stderr)
        sys.stderr.flush()


async def serve(spec: LaunchSpec, guard: Guard, layer_only: bool = False) -> None:
    """Everything after the guard listens: source, framework, readiness, then wait (with
    ``--layer-only``, on Kubernetes: source and requirements.txt's layer, then exit)."""
    prepared = await prepare(spec.source, spec.entry, os.environ)
    if prepared.revision:
        say(f"checked out {prepared.revision}")
    recipe = recipes.recipe_for(spec.framework, spec.custom)
    ports = spec.sandbox.ports if spec.sandbox is not None else None
    ready = READY if READY is not None and ports == READY.ports else None
    port = ready.port if ready else free_port_in(ports) if ports else free_loopback_port()
    entry = str(prepared.entry.relative_to(prepared.workdir)) if prepared.entry else ""
    python = spec.python or sys.executable
    layer = await requirements_layer(spec, prepared, python, guard, layer_only)
    if layer_only:
        return
    python = layer.python if layer else python
    values = recipes.placeholders(
        python=python, host="127.0.0.1", port=port, prefix=spec.prefix, entry=entry
    )
    plan = recipes.plan(recipe, values, spec.env, sandboxed=spec.sandbox is not None)
    sandbox = None
    environ = framework_environ(os.environ, plan.env)
    shims = environment.shim_folder() if python != sys.executable else ""
    if spec.sandbox is not None:
        if abi() < 1:  # the same spec fails the same way on this machine: exit 2
            raise SpecError("spec.sandbox: this kernel has no Landlock to sandbox with")
        extra = (*((layer.root,) if layer else ()), *((shims,) if shims else ()))
        sandbox = replace(spec.sandbox, read=(*spec.sandbox.read, *extra))
        sandbox = sandbox.for_framework(port, ready=ready)
        sandbox.make_home()
        environ.update(sandbox.environ())
        ahead = ready is not None and ready.ruleset is not None
        say(f"sandboxed: {describe(abi())}" + (" (its port rule built ahead)" if ahead else ""))
    # Another environment (only the app runs there), or the runner copied into one's image:
    # asked, as the app runs, whether the framework is there.
    if python != sys.executable or spec.environment:
        confined = environment.Confinement.of_app(sandbox, prepared.workdir) if sandbox else None
        await environment.check(python, spec.environment, recipe.label or recipe.name,
                                recipe.needs, environ, confined)  # fmt: skip
        say(f"in environment {spec.environment or python}")
    if shims:
        environ = environment.with_shims(environ, shims)
    door = None
    if spec.sandbox is not None and spec.sandbox.network != "host":
        network = spec.sandbox.network
        door = await warm_door(port, network)
        made = " (made ahead)" if door else ""
        door = door or await Door.open(port, network == "private")
        say(f"in a network of its own: {network}{made}")
    framework = Framework(
        [*plan.argv, *spec.args], environ, prepared.workdir, spec.log_lines, sandbox, door
    )
    target: Target = door or ("127.0.0.1", port)
    guard.upstream = target
    guard.strip_prefix = plan.strip_prefix
    guard.rewrites = plan.rewrites
    guard.status.set("starting", f"starting {spec.framework}")
    say(f"starting {spec.framework} in {prepared.workdir} on 127.0.0.1:{port}")
    started = time.monotonic()
    if ready is not None:
        ready.holder.close()  # the port, held since the runner warmed up, is the framework's
    await framework.start()
    try:
        base = "/" if plan.strip_prefix else spec.prefix
        probe = f"{base}{plan.ready_path}"
        await wait_ready(framework, target, probe, f"127.0.0.1:{port}", spec.ready_timeout)
        guard.status.set("ready", "ready")
        say(f"ready after {time.monotonic() - started:.1f} s")
        code = await framework.wait()
        raise FrameworkExited(f"the framework exited with code {code}", log_tail=framework.tail())
    finally:
        guard.status.set("stopping", "stopping")
        await framework.stop(spec.stop_grace)
        if door is not None:
            await door.close()


async def requirements_layer(
    spec: LaunchSpec, prepared: PreparedSource, python: str, guard: Guard, layer_only: bool
) -> layers.Layer | None:
    """The app's environment with the dashboard's requirements.txt (next to its entry, or
    at the top of its folder) installed on top, when the launcher asks for it."""
    if spec.requirements is None:
        return None
    near = prepared.entry.parent if prepared.entry else prepared.workdir
    found = next((p for p in (near / reqlines.FILE, prepared.workdir / reqlines.FILE)
                  if p.is_file()), None)  # fmt: skip
    if found is None:
        return None
    path = inside(prepared.workdir, str(found.relative_to(prepared.workdir)), reqlines.FILE,
                  SourceError)  # fmt: skip
    text = read_unlinked(path, layers.MAX_FILE, reqlines.FILE, RequirementsFailed)
    builder = layers.Builder(
        spec.requirements, python, spec.sandbox, framework_environ(os.environ, {}), say,
        lambda message: guard.status.set("preparing", message), spec.log_lines,
    )  # fmt: skip
    layer = await builder.layer(text)
    report = {k: v for k, v in asdict(layer).items() if k in ("key", "built", "reused")}
    made = Path(os.environ.get("HOME", "."), layers.MADE)  # a pod's init container's word
    if spec.requirements.made:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            report["reused"] = json.loads(made.read_text()).get("reused") is True
    elif layer_only:
        with contextlib.suppress(OSError):
            made.write_text(json.dumps(report))
    guard.layer = report  # for the owner's manage page: in the guard's health answer,
    with contextlib.suppress(OSError):  # and, for local runners, a file kept after it stops
        Path(layers.REPORT).write_text(json.dumps(report))
    return layer


async def run(spec: LaunchSpec, layer_only: bool = False) -> int:
    become_subreaper()
    guard = Guard(prefix=spec.prefix, credential=spec.credential)
    try:
        bound = await guard.start(spec.host, spec.port)
    except OSError as e:
        raise BindError(f"cannot listen on {spec.host}:{spec.port}: {e.strerror}") from e
    direct = DirectListener(guard)
    if spec.direct:  # a local runner: the gateway is on this machine (runners.direct)
        try:
            direct.start(spec.direct)
        except OSError as e:
            await guard.stop()
            raise BindError(f"cannot listen on @{spec.direct}: {e.strerror}") from e
    say(f"listening on http://{spec.host}:{bound}{spec.prefix}")
    print(json.dumps({"podium_runner": "listening", "port": bound}), flush=True)

    loop = asyncio.get_running_loop()
    main_task = asyncio.create_task(serve(spec, guard, layer_only))
    stopping = False

    def request_stop(signum: int) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            say(f"received {signal.Signals(signum).name}, stopping")
            main_task.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, signum)
    try:
        await main_task
        return 0
    except asyncio.CancelledError:
        if not stopping:
            raise
        return 0
    except RunnerError as e:
        guard.status.set("failed", e.message)
        raise
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await direct.stop()
        await guard.stop()
        await kill_descendants(spec.stop_grace)


async def fetch_only(spec: LaunchSpec) -> int:
    """``--fetch``: clone a git source and exit (on Kubernetes, the pod's init container:
    the repository's login reaches no other process)."""
    if isinstance(spec.source, GitSource) and not spec.source.fetched:
        say(f"checked out {await fetch(spec.source, os.environ)}")
    return 0


def copy_to(dest: str) -> int:
    """``--copy-to``: this program (its packages, the standard library only) into ``dest``,
    for an image without it: ``PYTHONPATH=dest python3 -m runners`` runs it there."""
    for package in (Path(__file__).parent, Path(relay.__file__).parent):
        shutil.copytree(package, Path(dest) / package.name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    say(f"copied into {dest}")
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed: it roughly halves the guard's cost per request."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


READY: Ready | None = None  # a warm runner's sandbox rule, built while it waits
WARM_DOOR: Door | None = None  # and its framework's network, made while it waits


def prepare_sandbox() -> None:
    """A warm runner prepares its framework's port, the sandbox's costly rule (on the
    host's network) while it waits for a dashboard (when the launcher says which ports
    the frameworks take)."""
    global READY
    first, _, last = os.environ.get(PORTS_ENV, "").partition("-")
    if first.isdigit() and last.isdigit():
        with contextlib.suppress(OSError, RunnerError):
            network = os.environ.get(NETWORK_ENV, "host")
            READY = prepare_rules((int(first), int(last)), network)


async def prepare_network() -> None:
    """A warm runner also makes its framework's private network (door, egress) ahead."""
    global WARM_DOOR
    network = os.environ.get(NETWORK_ENV, "host")
    if READY is not None and network in ("private", "isolated"):
        with contextlib.suppress(OSError, RunnerError):
            WARM_DOOR = await Door.open(READY.port, network == "private")


async def warm_door(port: int, network: str) -> Door | None:
    """The door made ahead, if it is for this port and network (else it goes)."""
    global WARM_DOOR
    door, WARM_DOOR = WARM_DOOR, None
    if door is not None and door.port == port and door.egress_wanted == (network == "private"):
        return door
    if door is not None:
        await door.close()
    return None


def take_assignment(stream: TextIO) -> str | None:
    """``--warm``: wait, imports done, for the launcher to hand over a dashboard: one JSON
    line ``{"folder", "spec", "log"}``. Moves into the folder, writes from now on to the
    dashboard's log, and returns the spec's path; None when the launcher went away."""
    line = stream.readline()
    if not line:
        return None
    doc = json.loads(line)
    os.chdir(doc["folder"])
    os.environ["HOME"] = doc["folder"]
    log = os.open(doc["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return str(doc["spec"])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="podium-runner",
        description="Run one Podium dashboard: fetch its source, start its framework "
        "behind a URL prefix, and guard it with the gateway's credential.",
        epilog="The launch spec is JSON (see docs/runner.md), read from --spec FILE, "
        "$PODIUM_LAUNCH_SPEC_FILE or $PODIUM_LAUNCH_SPEC.",
    )
    parser.add_argument("--spec", metavar="FILE", help="read the launch spec from FILE")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="start, then wait for the launcher to name the spec on stdin (a warm runner)",
    )
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="only clone the spec's git source, then exit (the app starts in another process)",
    )
    parser.add_argument(
        "--layer-only",
        action="store_true",
        help="only install the spec's requirements.txt into its layer, then exit (a pod's "
        "init container: the app's container mounts the layers read-only)",
    )
    parser.add_argument(
        "--layer-made",
        action="store_true",
        help="run on the layer an init container made (--layer-only); never install",
    )
    parser.add_argument(
        "--copy-to",
        metavar="DIR",
        help="copy this program into DIR and exit (an init container, for an image without it)",
    )
    parser.add_argument("--version", action="version", version=f"podium-runner {__version__}")
    return parser.parse_args(argv)


def _stopped(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    if os.getpid() == 1:  # a container's first process ignores a signal it has no handler
        signal.signal(signal.SIGTERM, _stopped)  # for: the kubelet's stop, until run()'s
    args = parse_args(argv)
    if args.copy_to:
        return copy_to(args.copy_to)
    loop_factory = event_loop_factory()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as loop:
            spec_file = args.spec
            if args.warm:
                prepare_sandbox()
                loop.run(prepare_network())
                spec_file = take_assignment(sys.stdin)  # the loop waits meanwhile
                if spec_file is None:
                    return 0  # the launcher went away before it needed this runner
            spec = load_spec(spec_file, os.environ)
            if args.layer_made and spec.requirements is not None:
                spec = replace(spec, requirements=replace(spec.requirements, made=True))
            return loop.run(fetch_only(spec) if args.fetch else run(spec, args.layer_only))
    except RunnerError as e:
        report(e)
        return e.exit_code
