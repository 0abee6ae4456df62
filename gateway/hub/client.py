"""The JupyterHub REST API, as the gateway uses it: users, groups, OAuth tokens.

Every call has a timeout; a hub that is down or slow becomes
:class:`Unavailable` (503, "try again"), never a hang or a stack trace.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from gateway.domain.access import User
from gateway.errors import Unavailable

PAGINATED = "application/jupyterhub-pagination+json"


def user_from_model(model: dict[str, Any]) -> User:
    return User(
        name=str(model["name"]),
        admin=bool(model.get("admin", False)),
        groups=frozenset(str(g) for g in model.get("groups") or ()),
    )


class Hub:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        api_token: str,
        timeout: float = 10,
        service: str = "",
    ) -> None:
        self.session = session
        self.service = service  # the service's name: tokens must give access to it
        self.api_url = api_url.rstrip("/")
        self.api_token = api_token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.on_call: Callable[[str, float], None] = lambda path, seconds: None  # metrics

    async def _call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"token {token or self.api_token}", **kwargs.pop("headers", {})}
        began = time.monotonic()
        try:
            async with self.session.request(
                method, self.api_url + path, headers=headers, timeout=self.timeout, **kwargs
            ) as response:
                if response.status >= 500:
                    raise Unavailable(f"the hub answered {response.status}; try again shortly")
                body = (
                    await response.json() if response.content_type == "application/json" else None
                )
                return response.status, body
        except (aiohttp.ClientError, TimeoutError) as e:
            raise Unavailable(
                f"the hub cannot be reached ({type(e).__name__}); try again shortly"
            ) from None
        finally:
            self.on_call(path, time.monotonic() - began)

    async def alive(self) -> bool:
        """Whether the hub answers at all (its API root needs no token), within 3 s."""
        try:
            async with self.session.get(
                self.api_url + "/", timeout=aiohttp.ClientTimeout(total=3)
            ) as response:
                return response.status < 500
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def user_for_token(self, token: str, *, api: bool = True) -> User | None:
        """The owner of a hub API or OAuth token, with what the token allows; ``None`` when
        the token is not valid or does not give access to this service.

        As JupyterHub's own HubAuth: the token must hold ``access:services`` for this
        service (a token the hub issued for another service, or with a narrow scope such as
        ``read:users:name``, is nobody here). An API token (``api``) carries admin rights
        only with the hub's ``admin:users`` scope, not because its owner is an admin.
        """
        status, body = await self._call("GET", "/user", token=token)
        if status in (401, 403, 404) or not isinstance(body, dict) or "name" not in body:
            return None
        if body.get("kind", "user") != "user":
            return None  # a service's own token is not a person
        scopes = set(body.get("scopes") or ())
        if self.service and not scopes & {
            "access:services",
            f"access:services!service={self.service}",
        }:
            return None
        user = user_from_model(body)
        if api and user.admin and "admin:users" not in scopes:
            user = dataclasses.replace(user, admin=False)
        return user

    async def user(self, name: str) -> User | None:
        """A user's current model, with the service's token; ``None`` when deleted."""
        status, body = await self._call("GET", f"/users/{quote(name, safe='')}")
        if status == 404:
            return None
        if status != 200 or not isinstance(body, dict):
            raise Unavailable(
                f"the hub refused to describe user {name!r} ({status}): grant the service "
                "the read:users and read:users:groups scopes"
            )
        return user_from_model(body)

    async def groups(self) -> set[str]:
        """Every group name on the hub."""
        return await self._names("groups", "list:groups")

    async def users(self) -> set[str]:
        """Every user name on the hub (the form's user picker)."""
        return await self._names("users", "list:users")

    async def _names(self, kind: str, scope: str) -> set[str]:
        names: set[str] = set()
        offset = 0
        while True:
            status, body = await self._call(
                "GET", f"/{kind}?offset={offset}&limit=200", headers={"Accept": PAGINATED}
            )
            if status != 200:
                raise Unavailable(f"the hub refused to list {kind} ({status}): grant {scope}")
            items = body["items"] if isinstance(body, dict) else body
            names.update(item["name"] for item in items)
            following = body.get("_pagination", {}).get("next") if isinstance(body, dict) else None
            if not following:
                return names
            offset = int(following["offset"])

    async def knows_client(self, client_id: str) -> bool | None:
        """Whether the hub takes ``client_id`` with this service's token as its OAuth client
        secret; ``None`` when it cannot tell (not reachable, an unexpected answer).

        It asks the token endpoint to trade a code that does not exist: the hub checks the
        client before the code, so ``invalid_grant`` means the client is right and
        ``invalid_client`` that it is not. Nothing is created.
        """
        data = {
            "grant_type": "authorization_code",
            "code": "podium-start-up-check",
            "client_id": client_id,
            "client_secret": self.api_token,
        }
        try:
            async with self.session.post(
                self.api_url + "/oauth2/token", data=data, timeout=self.timeout
            ) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        error = body.get("error") if isinstance(body, dict) else None
        return {"invalid_grant": True, "invalid_client": False}.get(str(error))

    async def exchange_code(self, code: str, client_id: str, redirect_uri: str) -> str:
        """Trade an OAuth authorization code for the user's access token."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "client_secret": self.api_token,
        }
        if redirect_uri:  # the one the login named; none: the hub uses the registered one
            data["redirect_uri"] = redirect_uri
        try:
            async with self.session.post(
                self.api_url + "/oauth2/token", data=data, timeout=self.timeout
            ) as response:
                body = await response.json(content_type=None)
                if response.status != 200 or "access_token" not in body:
                    return ""
                return str(body["access_token"])
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise Unavailable(
                f"the hub cannot be reached ({type(e).__name__}); try again shortly"
            ) from None
