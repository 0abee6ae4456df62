"""What the gateway sends to a runner, and what it sends back: headers, cookies, origins."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.launchers.base import Endpoint
from gateway.proxy import downstream_headers, same_origin, strip_cookies, upstream_headers

pytestmark = pytest.mark.unit

ENDPOINT = Endpoint("127.0.0.1", 9000, "c" * 64)


def request(headers: dict[str, str]) -> object:
    return make_mocked_request("GET", "/dashboards/alice/sales/x", headers=CIMultiDict(headers))


def test_viewer_credentials_never_reach_the_runner() -> None:
    sent = upstream_headers(
        request(
            {
                "Host": "hub.example.org",
                "Authorization": "token alice-hub-token",
                "Cookie": "podium-session=jwt; podium-xsrf=x; podium-oauth-state=s; app=keep",
                "X-Podium-User": "admin",
                "X-Podium-Credential": "forged",
                "X-Podium-Anything": "x",
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "1",
                "Keep-Alive": "timeout=5",
                "Accept": "text/html",
                "X-Forwarded-For": "10.0.0.1",
            }
        ),  # type: ignore[arg-type]
        ENDPOINT,
        "bob",
    )
    assert "Authorization" not in sent
    assert sent["Cookie"] == "app=keep"
    assert sent["X-Podium-User"] == "bob"
    assert sent["X-Podium-Credential"] == ENDPOINT.credential
    assert "X-Podium-Anything" not in sent and "X-Hop" not in sent and "Keep-Alive" not in sent
    assert sent["Host"] == "hub.example.org"
    assert sent["Accept"] == "text/html"
    assert sent["X-Forwarded-For"].startswith("10.0.0.1, ")
    assert sent.getall("X-Podium-User") == ["bob"]


def test_anonymous_viewer_is_an_empty_name() -> None:
    sent = upstream_headers(request({"Host": "h"}), ENDPOINT, "")  # type: ignore[arg-type]
    assert sent["X-Podium-User"] == "" and "Cookie" not in sent


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("podium-session=a", ""),
        ("a=1; podium-session=x; b=2", "a=1; b=2"),
        ('quoted="x y"; podium-xsrf=1', 'quoted="x y"'),
        ("garbage;;;=", "garbage;;;="),  # nothing of the gateway's: passed as it came
        ("garbage;;;=; podium-session=x", ""),  # unparseable with ours inside: dropped whole
    ],
)
def test_strip_cookies(header: str, kept: str) -> None:
    assert strip_cookies(header) == kept


def test_response_headers() -> None:
    upstream = CIMultiDictProxy(CIMultiDict({
        "Content-Type": "text/html", "Set-Cookie": "app=1", "Connection": "close, X-Hop",
        "X-Hop": "1", "Transfer-Encoding": "chunked",
    }))  # fmt: skip
    back = downstream_headers(upstream)
    assert back["Set-Cookie"] == "app=1" and back["Content-Type"] == "text/html"
    assert "X-Hop" not in back and "Transfer-Encoding" not in back and "Connection" not in back


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "hub.example.org", True),
        ("https://hub.example.org", "hub.example.org", True),
        ("https://evil.example", "hub.example.org", False),
        ("https://hub.example.org.evil.example", "hub.example.org", False),
        ("null", "hub.example.org", False),
    ],
)
def test_websocket_origin(origin: str | None, host: str, allowed: bool) -> None:
    headers = {"Host": host} if origin is None else {"Host": host, "Origin": origin}
    assert same_origin(request(headers)) is allowed  # type: ignore[arg-type]
