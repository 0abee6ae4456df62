"""What the gateway sends to a runner, and what it sends back: heads, cookies, origins."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.front.forwarding import (
    app_head,
    cookie_value,
    from_elsewhere,
    installs_a_worker,
    origin_and_host,
    response_head,
    same_origin,
    strip_cookies,
    upstream_head,
)
from gateway.web.wakeup import may_wake
from relay.http1 import parse_request, request_body

pytestmark = pytest.mark.unit

CREDENTIAL = "c" * 64


def raw(lines: list[str], target: str = "/dashboards/alice/sales/x") -> bytes:
    return "\r\n".join([f"GET {target} HTTP/1.1", *lines]).encode()


def fields(head: bytes) -> list[tuple[str, str]]:
    start, *lines = head.decode().removesuffix("\r\n\r\n").split("\r\n")
    assert start == "GET /dashboards/alice/sales/x HTTP/1.1"
    pairs = [line.split(":", 1) for line in lines]
    return [(k.lower(), v.strip()) for k, v in pairs]


def forwarded(
    lines: list[str], viewer: str = "bob", websocket: bool = False, compression: bool = True
) -> dict[str, list[str]]:
    head = upstream_head(
        parse_request(raw(lines)),
        peer="10.0.0.9",
        credential=CREDENTIAL,
        viewer=viewer,
        websocket=websocket,
        compression=compression,
    )
    out: dict[str, list[str]] = {}
    for k, v in fields(head):
        out.setdefault(k, []).append(v)
    return out


def test_viewer_credentials_never_reach_the_runner() -> None:
    sent = forwarded(
        [
            "Host: hub.example.org",
            "Authorization: token alice-hub-token",
            "Cookie: podium-session=jwt; podium-xsrf=x; podium-oauth-state=s; app=keep",
            "X-Podium-User: admin",
            "X-Podium-Credential: forged",
            "X-PODIUM-Anything: x",
            "Connection: keep-alive, X-Hop",
            "X-Hop: 1",
            "Keep-Alive: timeout=5",
            "Proxy-Authorization: Basic eA==",
            "Accept: text/html",
            "X-Forwarded-For: 10.0.0.1",
        ]
    )
    assert "authorization" not in sent and "proxy-authorization" not in sent
    assert sent["cookie"] == ["app=keep"]
    assert sent["x-podium-user"] == ["bob"]
    assert sent["x-podium-credential"] == [CREDENTIAL]
    assert "x-podium-anything" not in sent and "x-hop" not in sent and "keep-alive" not in sent
    assert "connection" not in sent
    assert sent["host"] == ["hub.example.org"]
    assert sent["accept"] == ["text/html"]
    assert sent["x-forwarded-for"] == ["10.0.0.1, 10.0.0.9"]
    assert sent["x-forwarded-proto"] == ["http"]
    assert sent["x-forwarded-host"] == ["hub.example.org"]


def test_anonymous_viewer_is_an_empty_name_and_no_cookie_header() -> None:
    sent = forwarded(["Host: h", "Cookie: podium-session=x"], viewer="")
    assert sent["x-podium-user"] == [""] and "cookie" not in sent
    assert sent["x-forwarded-for"] == ["10.0.0.9"]


def test_the_body_framing_crosses_unchanged() -> None:
    sent = forwarded(["Host: h", "Transfer-Encoding: chunked", "X-Forwarded-Proto: https"])
    assert sent["transfer-encoding"] == ["chunked"]
    assert sent["x-forwarded-proto"] == ["https"]  # set by the proxy in front: kept


def test_a_websocket_upgrade_keeps_its_handshake() -> None:
    sent = forwarded(
        [
            "Host: h",
            "Connection: keep-alive, Upgrade",
            "Upgrade: WebSocket",
            "Sec-WebSocket-Key: abc",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: chat",
        ],
        websocket=True,
    )
    assert sent["connection"] == ["Upgrade"] and sent["upgrade"] == ["websocket"]
    assert sent["sec-websocket-key"] == ["abc"] and sent["sec-websocket-protocol"] == ["chat"]


def test_compression_is_not_offered_when_message_sizes_are_limited() -> None:
    offer = ["Host: h", "Connection: Upgrade", "Upgrade: websocket",
             "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]  # fmt: skip
    assert "sec-websocket-extensions" in forwarded(offer, websocket=True)
    assert "sec-websocket-extensions" not in forwarded(offer, websocket=True, compression=False)


def test_the_forwarded_head_parses_as_one_request() -> None:
    head = upstream_head(
        parse_request(raw(["Host: h", "Content-Length: 5"])),
        peer="1.2.3.4",
        credential=CREDENTIAL,
        viewer="bob",
        websocket=False,
    )
    again = parse_request(head.removesuffix(b"\r\n\r\n"))
    assert request_body(again.head).consume(b"hello!") == (5, True)


def test_the_application_never_sees_client_podium_headers() -> None:
    head = app_head(parse_request(raw(["Host: h", "X-Podium-User: admin", "Accept: */*"])))
    assert b"admin" not in head and b"Accept: */*" in head
    plain = raw(["Host: h"])
    assert app_head(parse_request(plain)) == plain + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (b"podium-session=a", b""),
        (b"a=1; podium-session=x; b=2", b"a=1; b=2"),
        (b'quoted="x y"; podium-xsrf=1', b'quoted="x y"'),
        (b"garbage;;;=", b"garbage;;;="),  # nothing of the gateway's: passed as it came
        (b"podium-other=1; podium-oauth-state=s", b""),  # every podium- name is the gateway's
        (b"__Host-podium-dashboard=1; __Secure-jupyterhub-session-id=2; a=3", b"a=3"),
    ],
)
def test_strip_cookies(header: bytes, kept: bytes) -> None:
    assert strip_cookies(header) == kept


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (b"podium-session=abc.def", b"abc.def"),
        (b"x=1;podium-session=abc; y=2", b"abc"),
        (b'podium-session="abc"', b"abc"),
        (b"xpodium-session=abc", None),
        (b"podium-session-other=abc", None),
        (b"", None),
        (b"podium-session=planted; podium-session=mine", None),  # two: neither is taken
    ],
)
def test_cookie_value(header: bytes, value: bytes | None) -> None:
    assert cookie_value(header, b"podium-session") == value


def test_a_dashboard_cannot_set_the_gateway_cookies() -> None:
    block = (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: app=1; Path=/\r\nset-cookie:  podium-session=owner\r\n"
        b"SET-COOKIE: podium-xsrf=x\r\nContent-Length: 0"
    )
    assert (
        response_head(block) == b"HTTP/1.1 200 OK\r\nSet-Cookie: app=1; Path=/\r\nContent-Length: 0"
    )
    untouched = b"HTTP/1.1 200 OK\r\nSet-Cookie: app=podium-session"
    assert response_head(untouched) == untouched


P = b"/dashboards/alice/sales/"


@pytest.mark.parametrize(
    ("sent", "one_host", "shared_host"),
    [
        (b"app=1; Path=/dashboards/alice/sales/x", b"same", b"same"),
        (b"app=1; Path=/", b"same", b"app=1; Path=" + P),  # pinned where the host is shared
        (b"app=1", b"same", b"app=1; Path=" + P),
        (b"app=1; Domain=example.org; Path=/; HttpOnly", b"app=1; Path=/; HttpOnly",
         b"app=1; HttpOnly; Path=" + P),  # never the parent domain
        (b"app=1; domain=.localhost", b"app=1", b"app=1; Path=" + P),
        (b"jupyterhub-hub-login=forged; Path=/hub/", None, None),  # the hub's cookies
        (b"jupyterhub-session-id=x; Path=/", None, None),
        (b"JupyterHub-user-bob=x", None, None),
        (b"Podium-Session=owner; Path=/", None, None),  # the gateway's, any case
        (b"podium-dashboard=x", None, None),
        (b"__Host-podium-dashboard=x; Path=/; Secure", None, None),  # its name over https
        (b"__Secure-podium-signin=x; Secure", None, None),
        (b"=nameless", None, None),
    ],
)  # fmt: skip
def test_a_dashboards_cookies_stay_with_the_dashboard(
    sent: bytes, one_host: bytes | None, shared_host: bytes | None
) -> None:
    block = b"HTTP/1.1 200 OK\r\nSet-Cookie: " + sent + b"\r\nContent-Length: 0"
    for prefix, expected in ((None, one_host), (P, shared_host)):
        cookie = sent if expected == b"same" else expected
        line = [] if cookie is None else [b"Set-Cookie: " + cookie]
        assert response_head(block, prefix) == b"\r\n".join(
            [b"HTTP/1.1 200 OK", *line, b"Content-Length: 0"]
        ), prefix


def test_a_dashboard_cannot_clear_the_sites_data() -> None:
    block = b'HTTP/1.1 200 OK\r\nClear-Site-Data: "cookies", "storage"\r\nContent-Length: 0'
    assert response_head(block) == b"HTTP/1.1 200 OK\r\nContent-Length: 0"


def test_the_hubs_cookies_never_reach_a_dashboard() -> None:
    header = b"jupyterhub-session-id=s; app=1; jupyterhub-hub-login=l; _xsrf=app"
    assert strip_cookies(header) == b"app=1; _xsrf=app"  # the app's own _xsrf stays


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "hub.example.org", True),
        ("https://hub.example.org", "hub.example.org", True),
        ("https://evil.example", "hub.example.org", False),
        ("https://hub.example.org.evil.example", "hub.example.org", False),
        ("null", "hub.example.org", False),
        ("https://hub.example.org", None, False),
    ],
)
def test_websocket_origin(origin: str | None, host: str | None, allowed: bool) -> None:
    assert same_origin(origin, host) is allowed


def test_origin_and_host_of_a_raw_request() -> None:
    one = parse_request(raw(["Host: inner", "X-Forwarded-Host: outer", "Origin: http://outer"]))
    assert origin_and_host(one) == ("http://outer", "outer")
    two = parse_request(raw(["Host: h", "Origin: http://h", "Origin: http://evil"]))
    assert not same_origin(*origin_and_host(two))


@pytest.mark.parametrize(
    ("headers", "wakes"),
    [
        ({}, True),  # a script with a token
        ({"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}, True),  # a person opens it
        ({"Sec-Fetch-Mode": "cors"}, False),  # a page left open polling
        ({"Sec-Fetch-Mode": "no-cors"}, False),
        ({"Upgrade": "websocket", "Connection": "Upgrade"}, False),  # a framework reconnecting
        ({"Upgrade": "websocket", "Sec-Fetch-Mode": "websocket"}, False),
    ],
)
def test_only_opening_a_dashboard_wakes_it(headers: dict[str, str], wakes: bool) -> None:
    request = make_mocked_request("GET", "/dashboards/alice/sales/", headers=headers)
    assert may_wake(request) is wakes


@pytest.mark.parametrize(
    ("method", "headers", "elsewhere"),
    [
        ("GET", [], False),  # no Sec-Fetch-Site: not a browser (or an old one)
        ("GET", ["Sec-Fetch-Site: same-origin", "Sec-Fetch-Mode: cors"], False),
        ("GET", ["Sec-Fetch-Site: none", "Sec-Fetch-Mode: navigate"], False),  # typed in
        ("GET", ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate"], False),  # a link
        ("HEAD", ["Sec-Fetch-Site: same-site", "Sec-Fetch-Mode: navigate"], False),
        ("GET", ["Sec-Fetch-Site: same-site", "Sec-Fetch-Mode: cors"], True),  # a sibling's fetch
        ("GET", ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: no-cors"], True),  # a <script>
        ("POST", ["Sec-Fetch-Site: same-site", "Sec-Fetch-Mode: navigate"], True),  # a form
        ("GET", ["Sec-Fetch-Site: same-site", "Sec-Fetch-Mode: websocket"], True),
        # A sibling framing this dashboard: a navigation, but not of the whole tab.
        (
            "GET",
            ["Sec-Fetch-Site: same-site", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: iframe"],
            True,
        ),
        (
            "GET",
            ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document"],
            False,
        ),
        # No Fetch Metadata (an older browser, a plain-http host): Origin says it.
        ("POST", ["Origin: http://evil--alice.dash.example.org"], True),
        ("GET", ["Origin: http://evil--alice.dash.example.org"], True),
        ("POST", ["Origin: http://h"], False),  # this host's own page
    ],
)
def test_requests_other_pages_make(method: str, headers: list[str], elsewhere: bool) -> None:
    raw = "\r\n".join((f"{method} /dashboards/a/b/ HTTP/1.1", "Host: h", *headers))
    assert from_elsewhere(parse_request(raw.encode())) is elsewhere


def test_a_service_workers_script_is_recognised() -> None:
    assert installs_a_worker(parse_request(b"GET /sw.js HTTP/1.1\r\nService-Worker: script"))
    assert not installs_a_worker(parse_request(b"GET /sw.js HTTP/1.1\r\nHost: h"))
