"""The gateway's errors: a small tree, mapped to HTTP answers by one middleware.

    PodiumError                 500, a message that is safe to show
    ├── Invalid          400    a field of the request is wrong (``field`` names it)
    ├── Unauthenticated  401    no valid session or token
    ├── Forbidden        403    signed in, not allowed
    ├── NotFound         404
    ├── Conflict         409    e.g. the dashboard name is taken
    ├── TooLarge         413    the request body is over the limit
    └── Unavailable      503    the hub or a launcher cannot be reached; try again

Library exceptions are translated where they enter (the hub client, the store,
the launchers), so handlers only ever see this tree.
"""

from __future__ import annotations


class PodiumError(Exception):
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"status": self.status, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class Invalid(PodiumError):
    status = 400


class Unauthenticated(PodiumError):
    status = 401


class Forbidden(PodiumError):
    status = 403


class NotFound(PodiumError):
    status = 404


class Conflict(PodiumError):
    status = 409


class TooLarge(PodiumError):
    status = 413


class Unavailable(PodiumError):
    status = 503
