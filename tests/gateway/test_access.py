"""can_view, can_manage and can_create, by table."""

from __future__ import annotations

import pytest

from gateway.domain.access import User, can_create, can_manage, can_view
from gateway.domain.dashboards import Access, Dashboard

pytestmark = pytest.mark.unit

ALICE = User("alice")
BOB = User("bob", groups=frozenset({"analysts"}))
CAROL = User("carol", groups=frozenset({"sales"}))
ADMIN = User("root", admin=True)


def board(mode: str, users: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> Dashboard:
    return Dashboard(
        owner="alice",
        name="d",
        framework="streamlit",
        entry="app.py",
        access=Access(mode, users, groups),
    )


@pytest.mark.parametrize(
    ("user", "mode", "users", "groups", "public_enabled", "allowed"),
    [
        (ALICE, "private", (), (), False, True),
        (ADMIN, "private", (), (), False, True),
        (BOB, "private", (), (), False, False),
        (None, "private", (), (), True, False),
        (BOB, "restricted", (), ("analysts",), False, True),
        (CAROL, "restricted", (), ("analysts",), False, False),
        (CAROL, "restricted", ("carol",), ("analysts",), False, True),
        (BOB, "restricted", ("carol",), (), False, False),
        (None, "restricted", ("carol",), ("analysts",), True, False),
        (ADMIN, "restricted", (), (), False, True),
        (CAROL, "authenticated", (), (), False, True),
        (None, "authenticated", (), (), True, False),
        (None, "public", (), (), True, True),
        (None, "public", (), (), False, False),
        (CAROL, "public", (), (), False, True),
    ],
)
def test_can_view(
    user: User | None,
    mode: str,
    users: tuple[str, ...],
    groups: tuple[str, ...],
    public_enabled: bool,
    allowed: bool,
) -> None:
    assert can_view(user, board(mode, users, groups), public_enabled=public_enabled) is allowed


@pytest.mark.parametrize(
    ("user", "allowed"), [(ALICE, True), (ADMIN, True), (BOB, False), (None, False)]
)
def test_can_manage(user: User | None, allowed: bool) -> None:
    assert can_manage(user, board("authenticated")) is allowed


@pytest.mark.parametrize(
    ("user", "groups", "allowed"),
    [
        (BOB, (), True),
        (BOB, ("analysts",), True),
        (CAROL, ("analysts",), False),
        (ADMIN, ("analysts",), True),
        (None, (), False),
    ],
)
def test_can_create(user: User | None, groups: tuple[str, ...], allowed: bool) -> None:
    assert can_create(user, groups) is allowed
