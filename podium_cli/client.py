"""Podium's REST API over the standard library: finding Podium, calling it, following a
start.

Where Podium is: ``--url`` or ``$PODIUM_URL``; else, inside a user's server, the hub
says (``$JUPYTERHUB_API_URL``, the service's model). Whose token: ``--token``,
``$PODIUM_TOKEN``, else the server's own ``$JUPYTERHUB_API_TOKEN``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

USER_AGENT = "podium-cli"


class CliError(Exception):
    """A failure the command reports in one line and exits with ``code``."""

    code = 1

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotReached(CliError):
    """Podium cannot be found, reached, or will not take the token."""

    code = 3


class ApiError(CliError):
    """Podium answered with an error (its JSON ``message``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, code=3 if status in (401, 403) else 1)
        self.status = status


@dataclass(frozen=True)
class Where:
    base: str  # Podium's prefix, absolute: http://podium:8765/dashboards/
    token: str
    public: str = ""  # where browsers reach it, when known (for the printed link)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer here, not a detour


def _open(request: urllib.request.Request, timeout: float) -> Any:  # an HTTPResponse
    """Never a redirect followed: urllib would carry the token to wherever it points."""
    return urllib.request.build_opener(_NoRedirect()).open(request, timeout=timeout)


def _request(url: str, token: str, method: str = "GET", body: Any = None) -> urllib.request.Request:
    if not url.startswith(("http://", "https://")):  # never file: or the like
        raise NotReached(f"not an http(s) URL: {url!r}")
    headers = {"Authorization": f"token {token}", "User-Agent": USER_AGENT}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310


def _error_message(e: urllib.error.HTTPError) -> str:
    try:
        doc = json.loads(e.read(65_536) or b"{}")
    except ValueError:
        doc = {}
    message = doc.get("message") if isinstance(doc, dict) else None
    return str(message or f"HTTP {e.code} {e.reason}")


def locate(env: Mapping[str, str], url: str = "", token: str = "", service: str = "podium",
           timeout: float = 10) -> Where:  # fmt: skip
    """Where Podium's API is, and the token to call it with."""
    token = token or env.get("PODIUM_TOKEN", "") or env.get("JUPYTERHUB_API_TOKEN", "")
    if not token:
        raise NotReached(
            "no token: run this in a terminal of your JupyterHub server (it has "
            "$JUPYTERHUB_API_TOKEN), or pass --token (or set $PODIUM_TOKEN) with a token from "
            "the hub's token page"
        )
    public = _origin(env.get("JUPYTERHUB_PUBLIC_URL", ""))
    url = url or env.get("PODIUM_URL", "")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise NotReached(f"--url must be an http(s) URL, got {url!r}", code=2)
        path = parts.path if parts.path not in ("", "/") else "/dashboards/"
        base = f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}/"
        return Where(base, token, public or _origin(base))
    hub_api = env.get("JUPYTERHUB_API_URL", "")
    if not hub_api:
        raise NotReached(
            "cannot tell where Podium is: pass --url (e.g. https://hub.example.org/dashboards/) "
            "or set $PODIUM_URL; inside a JupyterHub server the hub says"
        )
    model_url = f"{hub_api.rstrip('/')}/services/{quote(service, safe='')}"
    try:
        with _open(_request(model_url, token), timeout) as response:
            model = json.loads(response.read(1_000_000))
    except urllib.error.HTTPError as e:
        raise NotReached(
            f"the hub did not say where its service {service!r} is ({_error_message(e)}). "
            f"Set $PODIUM_URL or pass --url; or ask your admin to grant "
            f"read:services!service={service} to users and their servers (docs/creators.md)"
        ) from None
    except (OSError, ValueError) as e:
        raise NotReached(f"cannot ask the hub at {hub_api} where Podium is: {e}") from None
    service_url = str(model.get("url") or "") if isinstance(model, dict) else ""
    if not service_url:
        raise NotReached(f"the hub's service {service!r} has no URL: is it Podium?")
    return Where(_prefix_of(service_url.rstrip("/"), service, timeout), token, public)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _prefix_of(service_url: str, service: str, timeout: float) -> str:
    """Podium's prefix: its answer at the service's hub URL is a redirect there
    (/services/podium/ → /dashboards/), unless it is served under that URL itself."""
    own = f"/services/{quote(service, safe='')}/"
    try:
        request = _request(service_url + own, "")
        request.remove_header("Authorization")  # the token goes to Podium's API alone
        with _open(request, timeout):
            pass
    except urllib.error.HTTPError as e:
        location = e.headers.get("Location", "") if 300 <= e.code < 400 else ""
        path = urlsplit(location).path
        if path.startswith("/") and not path.startswith("//"):  # a path: never another host
            return _origin(service_url) + path
    except OSError as e:
        raise NotReached(f"cannot reach Podium at {service_url}: {e}") from None
    return service_url + own


class PodiumApi:
    """Calls to one Podium, as one user."""

    def __init__(self, where: Where, timeout: float = 30) -> None:
        self.where = where
        self.timeout = timeout

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """``path`` under ``<prefix>_/api/``; the JSON answer (``None`` for 204)."""
        url = f"{self.where.base}_/api/{path}"
        try:
            with _open(_request(url, self.where.token, method, body), self.timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as e:
            if e.code == 404 and path == "user":
                raise NotReached(f"no Podium answers at {self.where.base}") from None
            raise ApiError(e.code, _error_message(e)) from None
        except OSError as e:
            raise NotReached(f"cannot reach Podium at {self.where.base}: {e}") from None
        try:
            return json.loads(data) if data else None
        except ValueError:
            raise NotReached(f"{url} did not answer JSON: is it Podium?") from None

    def events(self, path: str, timeout: float) -> Iterator[dict[str, Any]]:
        """The server-sent events of ``path`` (a start's progress), until the stream ends."""
        url = f"{self.where.base}_/api/{path}"
        request = _request(url, self.where.token)
        request.add_header("Accept", "text/event-stream")
        try:
            with _open(request, timeout) as response:
                for raw in response:
                    line = raw.decode("utf-8", "replace").strip()
                    if line.startswith("data:"):
                        try:
                            event = json.loads(line[5:])
                        except ValueError:
                            continue
                        if isinstance(event, dict):
                            yield event
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, _error_message(e)) from None
        except TimeoutError:
            raise CliError(f"no word from Podium in {timeout:.0f} s", code=4) from None
        except OSError as e:
            raise NotReached(f"lost Podium at {self.where.base}: {e}") from None

    def link(self, doc: Mapping[str, Any]) -> str:
        """The dashboard's shareable link: absolute where the public address is known."""
        path = str(doc.get("url", ""))
        public = self.where.public
        return urljoin(public + "/", path) if public else path


def dashboard_path(owner: str, name: str) -> str:
    return f"dashboards/{quote(owner, safe='')}/{quote(name, safe='')}"


def environment() -> dict[str, str]:
    return dict(os.environ)
