"""The runner's failures, each with the exit code the launcher sees.

Every failure a person can act on is one class here; :func:`runners.main.main`
prints its message (and the framework's last lines when there are some) and
exits with its code. Codes are part of the launcher contract (docs/runner.md):

    0  stopped on request (SIGTERM/SIGINT)
    2  SpecError            the launch spec is invalid: starting it again fails the
                            same way, so the gateway does not retry it by itself
    3  SourceError          the source could not be prepared (git clone, missing dir)
    4  EntryError           the entry file is missing or outside the source
    5  BindError            the guard could not listen (port in use)
    6  FrameworkStartError  the framework exited before it was ready
    7  ReadinessTimeout     the framework did not become ready in time
    8  FrameworkExited      the framework exited after it was ready
    9  EnvironmentMissing   the dashboard's environment cannot run its framework (a
                            module missing, no such interpreter), or its requirements.txt
                            cannot be installed (RequirementsFailed): not retried by itself
"""

from __future__ import annotations


class RunnerError(Exception):
    """Base of every runner failure; ``exit_code`` is what the process returns."""

    exit_code = 1

    def __init__(self, message: str, *, log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log_tail = log_tail or []


class SpecError(RunnerError):
    exit_code = 2


class SourceError(RunnerError):
    exit_code = 3


class EntryError(RunnerError):
    exit_code = 4


class BindError(RunnerError):
    exit_code = 5


class FrameworkStartError(RunnerError):
    exit_code = 6


class ReadinessTimeout(RunnerError):
    exit_code = 7


class FrameworkExited(RunnerError):
    exit_code = 8


class EnvironmentMissing(RunnerError):
    exit_code = 9


class RequirementsFailed(EnvironmentMissing):
    """The dashboard's requirements.txt could not be installed (or is not allowed)."""
