"""A private git repository over smart HTTP: git's own ``http-backend`` behind Basic auth.

``python -m tests.support.gitserver --root DIR --port N --user U`` serves the bare
repositories under DIR at ``http://127.0.0.1:N/<name>.git`` to U with the password in
``$GIT_SERVER_PASSWORD`` only (401 to anyone else, as GitHub answers for a private
repository), until killed. (Not on its command line: every process may read that, and
the tests look for the password everywhere a dashboard's code can.)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

from tests.support.harness import APPS, free_port, wait_listening

PASSWORD_ENV = "GIT_SERVER_PASSWORD"


def app(root: Path, user: str, password: str) -> web.Application:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    async def backend(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        env = {
            "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": request.path, "QUERY_STRING": request.query_string,
            "REQUEST_METHOD": request.method, "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
            "HTTP_GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "PATH": "/usr/bin:/bin",
        }  # fmt: skip
        body = await request.read()
        env["CONTENT_LENGTH"] = str(len(body))
        proc = await asyncio.create_subprocess_exec(
            "git", "http-backend", env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await proc.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        response = web.Response(body=payload)
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                response.set_status(int(value.split()[0]))
            elif name:
                response.headers[name] = value.strip()
        return response

    application = web.Application(client_max_size=64 * 2**20)
    application.router.add_route("*", "/{tail:.*}", backend)
    return application


def inspecting_repository(work: Path) -> Path:
    """A work tree whose ``app/`` is the inspecting app (tests/apps/custom), committed."""
    (work / "app").mkdir(parents=True)
    shutil.copy(APPS / "custom" / "inspect_app.py", work / "app")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "app"]):
        subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@a", *args], cwd=work,
                       check=True)  # fmt: skip
    return work


@contextmanager
def private_repository(source: Path, user: str, password: str) -> Iterator[str]:
    """``source`` (a work tree with commits) as a private repository; its URL, no login."""
    root = source.parent / "served"
    root.mkdir(exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(root / "app.git")], check=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.gitserver", "--root", str(root), "--port", str(port),
         "--user", user],
        cwd=Path(__file__).resolve().parents[2], env={**os.environ, PASSWORD_ENV: password},
    )  # fmt: skip
    try:
        wait_listening(port)
        yield f"http://127.0.0.1:{port}/app.git"
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    for option in ("--root", "--user"):
        parser.add_argument(option, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(
        app(Path(args.root), args.user, os.environ[PASSWORD_ENV]),
        host="127.0.0.1", port=args.port, print=None,
    )  # fmt: skip


if __name__ == "__main__":
    main()
