"""``podium publish|list|status|start|stop|restart|logs|open|delete``: the creator's
commands. (``podium`` with anything else runs the gateway: ``podium -f podium_config.py``.)

Exit codes: 0 done; 1 Podium refused or the dashboard failed to start; 2 a usage error;
3 Podium cannot be found or reached, or refuses the token; 4 a wait timed out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from podium_cli.client import ApiError, CliError, PodiumApi, dashboard_path, environment, locate
from podium_cli.guess import dashboard_name
from podium_cli.publishing import guess_file, save, storage_source

COMMANDS = ("publish", "list", "status", "start", "stop", "restart", "logs", "open", "delete")
FRAMEWORKS = ("voila", "streamlit", "panel", "bokeh", "dash", "gradio", "shiny", "custom")
ENDED = ("ready", "failed", "stopped")


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where Podium is (inside a JupyterHub server: found)")
    where.add_argument("--url", default="", help="Podium's address, e.g. https://hub.example."
                       "org/dashboards/ (default: $PODIUM_URL, else the hub says)")  # fmt: skip
    where.add_argument("--token", default="", help="a hub API token (default: $PODIUM_TOKEN, "
                       "else the server's $JUPYTERHUB_API_TOKEN)")  # fmt: skip
    where.add_argument("--service", default="podium", help="Podium's name among the hub's "
                       "services (default: podium)")  # fmt: skip
    common.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    waits = argparse.ArgumentParser(add_help=False)
    waits.add_argument("--no-wait", action="store_true", help="do not wait until it is ready")
    waits.add_argument("--timeout", type=float, default=600, help="seconds to wait (600)")

    top = argparse.ArgumentParser(
        prog="podium", description="Publish notebooks and apps as dashboards with Podium.",
        epilog="Run the gateway itself with: podium -f podium_config.py",
    )  # fmt: skip
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    publish = sub.add_parser("publish", parents=[common, waits], help="publish a file (again)",
                             description="Publish a notebook or app; publishing the same name "
                             "again updates it and restarts it.")  # fmt: skip
    publish.add_argument(
        "path", help="the notebook or script (with --git: its path in the repository)"
    )
    publish.add_argument("--name", help="the dashboard's name (default: from the file)")
    publish.add_argument("--framework", choices=FRAMEWORKS, help="default: guessed from the file")
    publish.add_argument("--title", help="a title for the gallery")
    publish.add_argument("--to", action="append", default=[], metavar="WHO",
                         help="who may view it: a username, group:NAME, all (every hub user) or "
                         "public; repeat or separate with commas (default: only you; kept when "
                         "publishing again)")  # fmt: skip
    publish.add_argument("--git", metavar="URL", help="run it from this git repository")
    publish.add_argument("--ref", default="", help="the git branch, tag or commit")
    publish.add_argument("--idle", type=int, metavar="MINUTES", help="stop after this long unused")
    publish.add_argument("--root", default="", help="your storage's top folder, which Podium runs "
                         "files from (default: $PODIUM_STORAGE_ROOT, else your home)")  # fmt: skip
    sub.add_parser("list", parents=[common], help="your dashboards")
    for name, what in (("status", "how it is"), ("open", "print its link (and open it)"),
                       ("delete", "delete it")):  # fmt: skip
        p = sub.add_parser(name, parents=[common], help=what)
        p.add_argument("name")
        if name == "delete":
            p.add_argument("--yes", action="store_true", help="do not ask")
    for name, what in (("start", "start it"), ("restart", "restart it"), ("stop", "stop it")):
        p = sub.add_parser(name, parents=[common] + ([waits] if name != "stop" else []), help=what)
        p.add_argument("name")
    logs = sub.add_parser("logs", parents=[common], help="its runner's log")
    logs.add_argument("name")
    logs.add_argument("--lines", type=int, default=200)
    return top


class Session:
    """One command's calls, as the token's user, and how it reports."""

    def __init__(self, args: argparse.Namespace, env: Mapping[str, str],
                 out: Callable[[str], None], err: Callable[[str], None]) -> None:  # fmt: skip
        self.args, self.env, self.out, self.err = args, env, out, err
        self.podium = PodiumApi(locate(env, args.url, args.token, args.service))
        self.me = self.podium.api("GET", "user")
        if not isinstance(self.me, dict) or not isinstance(self.me.get("name"), str):
            raise CliError("Podium's answer about you has no name: is it Podium?", code=3)
        if self.me.get("public_url"):  # Podium knows where browsers reach it
            self.podium.where = replace(self.podium.where, public=str(self.me["public_url"]))

    def path(self, name: str) -> str:
        return dashboard_path(str(self.me["name"]), name)

    def report(self, doc: Mapping[str, Any]) -> None:
        link = self.podium.link(doc)
        if self.args.json:
            self.out(json.dumps({**doc, "link": link}, indent=2))
            return
        line = f"{doc.get('name')}: {doc.get('status')}"
        if doc.get("message") and doc.get("status") != "ready":
            line += f" ({doc['message']})"
        self.out(line)
        self.out(f"  {link}")

    def wait(self, name: str) -> dict[str, Any]:
        """Follow the start (a progress line on stderr) until it ends; its final document."""
        began = time.monotonic()
        timeout = float(self.args.timeout)
        status = ""
        tty = sys.stderr.isatty()
        for event in self.podium.events(self.path(name) + "/events", timeout):
            status = str(event.get("status", ""))
            message = str(event.get("message") or status)
            line = f"{status}: {message} ({time.monotonic() - began:.0f} s)"
            self.err(("\r\033[K" + line) if tty else line)
            if status in ENDED or time.monotonic() - began > timeout:
                break
        if tty:
            self.err("\n")
        doc: dict[str, Any] = self.podium.api("GET", self.path(name))
        if doc.get("status") not in ENDED and time.monotonic() - began >= timeout:
            raise CliError(f"{name} is not ready after {timeout:.0f} s (still {status})", code=4)
        return doc

    def follow(self, name: str, doc: dict[str, Any]) -> int:
        if not getattr(self.args, "no_wait", True):
            doc = self.wait(name)
        self.report(doc)
        if doc.get("status") == "failed":
            if not self.args.json:
                self.err(f"it could not start: {doc.get('message') or 'see podium logs ' + name}\n")
            return 1
        return 0


def access(values: Sequence[str]) -> dict[str, Any] | None:
    """``--to`` values as the API's access document (``None``: not given)."""
    who = [v.strip() for value in values for v in value.split(",") if v.strip()]
    if not who:
        return None
    if who == ["public"]:
        return {"mode": "public"}
    if who == ["all"]:
        return {"mode": "authenticated"}
    if "public" in who or "all" in who:
        raise CliError("--to all and --to public stand alone (they include everyone)", code=2)
    groups = [w.split(":", 1)[1] for w in who if w.startswith("group:")]
    users = [w for w in who if not w.startswith("group:")]
    return {"mode": "restricted", "users": users, "groups": groups}


def publish(s: Session) -> int:
    args = s.args
    if args.git:
        entry, source = args.path, {"type": "git", "url": args.git, "ref": args.ref, "path": ""}
        local = Path(args.path) if Path(args.path).is_file() else None
    else:
        local = Path(args.path)
        if not local.is_file():
            raise CliError(f"{args.path}: no such file", code=2)
        root = Path(args.root or s.env.get("PODIUM_STORAGE_ROOT") or s.env.get("HOME") or "/")
        entry, source = storage_source(local, root)
    framework = args.framework
    if not framework:
        guess = guess_file(entry, local)
        if not guess.framework:
            raise CliError(f"cannot tell the framework of {entry}: {guess.why}; "
                           "choose one with --framework", code=2)  # fmt: skip
        framework = guess.framework
        if not args.json:
            s.err(f"framework: {framework} (guessed: {guess.why}; --framework to choose)\n")
    name = args.name or dashboard_name(entry if args.git else f"{source['path']}/{entry}")
    body: dict[str, Any] = {"framework": framework, "entry": entry, "source": source}
    if args.title is not None:
        body["title"] = args.title
    if args.idle is not None:
        body["idle_timeout"] = args.idle * 60
    if (who := access(args.to)) is not None:
        body["access"] = who
    try:
        done = save(s.podium, s.path(name), name, body, other_file=bool(args.name))
    except ApiError as e:
        if e.status != 409:
            raise
        raise CliError(f"{e.message} (--name NAME; or --name {name} to replace it)") from None
    if not args.json:
        s.err(f"{done} {name}\n")
    return s.follow(name, s.podium.api("GET", s.path(name)))


def list_(s: Session) -> int:
    found = s.podium.api("GET", f"dashboards?owner={quote(s.me['name'], safe='')}&limit=1000")
    items = [d for d in found.get("items", []) if d.get("owner") == s.me["name"]]
    if s.args.json:
        s.out(json.dumps([{**d, "link": s.podium.link(d)} for d in items], indent=2))
        return 0
    if not items:
        s.out("no dashboards yet: podium publish PATH")
    for d in items:
        s.out(f"{d['name']:<24} {d['framework']:<10} {d['status']:<9} {s.podium.link(d)}")
    return 0


def lifecycle(s: Session) -> int:
    command, name = s.args.command, s.args.name
    s.podium.api("POST", f"{s.path(name)}/{command}")
    return s.follow(name, s.podium.api("GET", s.path(name)))


def status(s: Session) -> int:
    s.report(s.podium.api("GET", s.path(s.args.name)))
    return 0


def open_(s: Session) -> int:
    link = s.podium.link(s.podium.api("GET", s.path(s.args.name)))
    s.out(link)
    if link.startswith("http") and (s.env.get("DISPLAY") or s.env.get("BROWSER")):
        webbrowser.open(link)
    return 0


def logs(s: Session) -> int:
    lines = s.podium.api("GET", f"{s.path(s.args.name)}/logs?lines={max(1, s.args.lines)}")
    if s.args.json:
        s.out(json.dumps(lines))
    else:
        for line in lines.get("lines", []):
            s.out(line)
    return 0


def delete(s: Session) -> int:
    name = s.args.name
    if not s.args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"deleting {name} needs --yes when not asked at a terminal", code=2)
        if input(f"delete {name} and its link for good? [y/N] ").strip().lower() != "y":
            return 1
    s.podium.api("DELETE", s.path(name))
    s.out(json.dumps({"deleted": name}) if s.args.json else f"deleted {name}")
    return 0


HANDLERS: dict[str, Callable[[Session], int]] = {
    "publish": publish, "list": list_, "status": status, "open": open_, "logs": logs,
    "delete": delete, "start": lifecycle, "stop": lifecycle, "restart": lifecycle,
}  # fmt: skip


def run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """One creator command; its exit code."""
    args = parser().parse_args(list(argv))

    def out(text: str) -> None:
        print(text, flush=True)

    def err(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    try:
        return HANDLERS[args.command](
            Session(args, environment() if env is None else env, out, err)
        )
    except CliError as e:
        err(f"podium {args.command}: {e.message}\n")
        return e.code
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """The ``podium`` command: a creator's subcommand, else the gateway."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or (argv[0] in ("-h", "--help") and len(argv) == 1)):
        return run(argv)
    try:
        from gateway.app import main as gateway  # the gateway's dependencies load only here
    except ModuleNotFoundError as e:  # a user image: the creators' commands alone
        print(f"podium: the gateway is not installed here ({e.name}); the commands here are "
              f"{', '.join(COMMANDS)} (podium --help)", file=sys.stderr)  # fmt: skip
        return 2
    return gateway(argv)


if __name__ == "__main__":
    raise SystemExit(main())
