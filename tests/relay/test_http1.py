"""HTTP/1.1 framing used by the guard: heads, bodies, and every ambiguous form refused."""

from __future__ import annotations

import pytest

from relay.http1 import (
    ChunkedBody,
    HeadError,
    LengthBody,
    NoBody,
    parse_headers,
    parse_request,
    request_body,
    response_body,
)

pytestmark = pytest.mark.unit


def head(*lines: str) -> bytes:
    return "\r\n".join(lines).encode()


def test_parse_request_keeps_order_and_spelling() -> None:
    r = parse_request(head("GET /a/b?x=1 HTTP/1.1", "Host: h", "X-Two: 1", "x-two: 2"))
    assert (r.method, r.target, r.path, r.version) == (b"GET", b"/a/b?x=1", b"/a/b", b"HTTP/1.1")
    assert r.head.get(b"X-TWO") == [b"1", b"2"]
    assert (
        r.serialize(b"/c", r.head.without(b"host"))
        == b"GET /c HTTP/1.1\r\nX-Two: 1\r\nx-two: 2\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("block", "status"),
    [
        (head("GET /x HTTP/2.0", "Host: h"), 505),
        (head("GET http://evil/x HTTP/1.1"), 400),
        (head("GET /x"), 400),
        (head("G(T /x HTTP/1.1"), 400),
        (head("GET /x HTTP/1.1", "Host: h", " folded"), 400),
        (head("GET /x HTTP/1.1", "Bad Header: x"), 400),
        (head("GET /x HTTP/1.1", "NoColon"), 400),
        (head("GET /x HTTP/1.1", "X-A: a\x00b"), 400),  # a NUL in a value
        (head("GET /x HTTP/1.1", "X-A: a\x1bb"), 400),  # any control but tab
        (head("GET /x HTTP/1.1", "X-A: a\x7f"), 400),
    ],
)
def test_malformed_requests(block: bytes, status: int) -> None:
    with pytest.raises(HeadError) as error:
        parse_request(block)
    assert error.value.status == status


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (["Content-Length: 5", "Transfer-Encoding: chunked"], 400),
        (["Transfer-Encoding: gzip, chunked"], 501),
        (["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], 501),
        (["Content-Length: 5", "Content-Length: 6"], 400),
        (["Content-Length: -1"], 400),
        (["Content-Length: 0x10"], 400),
        (["Content-Length: 1234567890123456"], 400),
    ],
)
def test_ambiguous_bodies_are_refused(headers: list[str], status: int) -> None:
    with pytest.raises(HeadError) as error:
        request_body(parse_headers(head("POST / HTTP/1.1", *headers)))
    assert error.value.status == status


def test_request_body_kinds() -> None:
    assert isinstance(request_body(parse_headers(head("GET / HTTP/1.1"))), NoBody)
    assert isinstance(
        request_body(parse_headers(head("POST / HTTP/1.1", "Content-Length: 0"))), NoBody
    )
    assert isinstance(
        request_body(parse_headers(head("POST / HTTP/1.1", "Content-Length: 3"))), LengthBody
    )
    chunked = request_body(parse_headers(head("POST / HTTP/1.1", "Transfer-Encoding: Chunked")))
    assert isinstance(chunked, ChunkedBody)
    assert chunked.consume(b"5\r\nhello\r\n0\r\n\r\n") == (15, True)


def test_a_requests_trailer_fields_are_refused_a_responses_pass() -> None:
    """A request's trailer would reach the app unchecked (``X-Podium-User`` among them)."""
    sent = b"5\r\nhello\r\n0\r\nX-Podium-User: admin\r\n\r\n"
    chunked = request_body(parse_headers(head("POST / HTTP/1.1", "Transfer-Encoding: chunked")))
    with pytest.raises(HeadError, match="trailer"):
        chunked.consume(sent)
    response = response_body(head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), b"GET")
    assert response is not None and response.consume(sent) == (len(sent), True)


def test_length_body_across_feeds() -> None:
    body = LengthBody(5)
    assert body.consume(b"abc") == (3, False)
    assert body.consume(b"deGET /") == (2, True)


CHUNKED = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n"


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(CHUNKED)])
def test_chunked_body_in_any_pieces(step: int) -> None:
    body = ChunkedBody()
    data = CHUNKED + b"GET /next HTTP/1.1\r\n"
    taken_total = 0
    for i in range(0, len(data), step):
        taken, done = body.consume(data[i : i + step])
        taken_total += taken
        if done:
            break
    assert done
    assert taken_total == len(CHUNKED)


@pytest.mark.parametrize(
    "bad",
    [
        b"zz\r\n",
        b"4\r\nWikiXX",
        b"-1\r\n",
        b"1" * 5000,
        b"4\nWiki\r\n",  # a bare LF ends the size line
        b"4\r\r\nWiki\r\n",
        b"0\r\nX-Trailer: 1\n\r\n",  # a trailer ending in a bare LF
    ],
)
def test_chunked_body_refuses_garbage(bad: bytes) -> None:
    with pytest.raises(HeadError):
        ChunkedBody().consume(bad)


@pytest.mark.parametrize(
    ("status", "headers", "method", "kind"),
    [
        ("HTTP/1.1 200 OK", ["Content-Length: 10"], b"GET", LengthBody),
        ("HTTP/1.1 200 OK", ["Content-Length: 10"], b"HEAD", NoBody),
        ("HTTP/1.1 204 No Content", [], b"GET", NoBody),
        ("HTTP/1.1 304 Not Modified", ["Content-Length: 10"], b"GET", NoBody),
        ("HTTP/1.1 200 OK", ["Transfer-Encoding: chunked"], b"GET", ChunkedBody),
        ("HTTP/1.1 200 OK", [], b"GET", type(None)),
    ],
)
def test_response_body_kinds(status: str, headers: list[str], method: bytes, kind: type) -> None:
    assert isinstance(response_body(head(status, *headers), method), kind)
