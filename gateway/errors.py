"""The gateway's errors: a small tree, mapped to HTTP answers by one middleware.

    PodiumError                 500, a message that is safe to show
    ├── Invalid          400    a field of the request is wrong (``field`` names it)
    ├── Unauthenticated  401    no valid session or token
    ├── Forbidden        403    signed in, not allowed
    ├── NotFound         404
    ├── Conflict         409    e.g. the dashboard name is taken
    ├── TooLarge         413    the request body is over the limit
    ├── TooMany          429    a rate the admin set (``retry_after`` seconds)
    ├── LauncherError    502    a runner could not be started, stopped or read (the
    │                           launcher's message, e.g. the Kubernetes API's refusal)
    └── Unavailable      503    the hub or a launcher cannot be reached; try again

Library exceptions are translated where they enter (the hub client, the store,
the launchers), so handlers only ever see this tree; anything else is a bug,
answered 500 with a reference to the gateway's log.

    Misconfigured               not an answer: Podium refuses to start, saying why
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


class TooMany(PodiumError):
    status = 429

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LauncherError(PodiumError):
    """A runner could not be started, stopped or read; the message is shown to the owner."""

    status = 502


class Unavailable(PodiumError):
    status = 503


class Misconfigured(Exception):
    """The configuration cannot work (e.g. the hub refuses the OAuth client): exit 2, saying
    what to change, rather than serve logins that would fail for every viewer."""
