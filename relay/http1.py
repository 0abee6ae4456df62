"""HTTP/1.1 message framing for the guard: parse a request head, find where a body ends.

The guard relays bytes between two paired connections and only needs to see
each request's head (to check and strip the credential, and to route) and to
know where each request body ends (so the next head is found). Bodies are
never decoded or copied whole. Anything ambiguous is refused, as request
smuggling lives in the gap between two parsers that disagree: both
``Content-Length`` and ``Transfer-Encoding``, a transfer coding other than
``chunked``, repeated or malformed lengths, folded header lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,15})[ \t]*(?:\r\n|$)")
# Control bytes a head may not hold (a NUL in a value ends it early for some servers); tab,
# and CR and LF as line ends (counted apart), are fine.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked")


class HeadError(Exception):
    """A request the guard will not forward; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Head:
    """A parsed message head; ``lines`` keeps the raw header lines' order and spelling."""

    start: bytes  # request line or status line, without CRLF
    lines: list[bytes]
    names: list[bytes]  # lower-cased field name of each line
    fields: dict[bytes, list[bytes]]  # lower-cased name -> values

    def get(self, name: bytes) -> list[bytes]:
        return self.fields.get(name.lower(), [])

    def without(self, name: bytes) -> list[bytes]:
        lowered = name.lower()
        return [line for line, n in zip(self.lines, self.names, strict=True) if n != lowered]


def line_problem(block: bytes) -> str | None:
    """What makes a head's lines read differently by different readers: a bare CR or LF,
    a folded line (obs-fold), a control character. A browser takes a bare LF for a line
    of its own and joins a folded line to the one before, where a reader of CRLF lines
    does not — a header (a ``Set-Cookie``) that a filter never saw. Senders must not
    write any of them (RFC 9112, 2.2 and 5.2); three counts, on every head."""
    crlf = block.count(b"\r\n")
    if block.count(b"\r") != crlf or block.count(b"\n") != crlf:
        return "bare CR or LF in the head"
    if b"\r\n " in block or b"\r\n\t" in block:
        return "folded header lines are not accepted"
    if _CONTROL.search(block) is not None:
        return "a control character in the head"
    return None


def parse_headers(block: bytes) -> Head:
    """Split a head (without its final blank line) into start line and header fields.

    On every request of every viewer, so written for speed: the names are checked
    in one pass (a run of valid names is itself a token), bare CR or LF refused in
    three counts.
    """
    problem = line_problem(block)
    if problem is not None:
        raise HeadError(400, problem)
    start, *lines = block.split(b"\r\n")
    names: list[bytes] = []
    fields: dict[bytes, list[bytes]] = {}
    for line in lines:
        name, sep, value = line.partition(b":")
        if not sep or not name:
            raise HeadError(400, "malformed header line")
        lowered = name.lower()
        names.append(lowered)
        value = value.strip(b" \t")
        found = fields.get(lowered)
        if found is None:
            fields[lowered] = [value]
        else:
            found.append(value)
    if names and not _TOKEN.match(b"".join(names)):
        raise HeadError(400, "malformed header line")
    return Head(start, lines, names, fields)


@dataclass
class Request:
    head: Head
    method: bytes
    target: bytes
    version: bytes

    @property
    def path(self) -> bytes:
        return self.target.split(b"?", 1)[0]

    def serialize(self, target: bytes, lines: list[bytes]) -> bytes:
        """The head to forward: the request line with ``target``, then ``lines`` as they came."""
        start = (
            self.head.start
            if target == self.target
            else b" ".join((self.method, target, self.version))
        )
        return b"\r\n".join((start, *lines)) + b"\r\n\r\n"


def parse_request(block: bytes) -> Request:
    head = parse_headers(block)
    parts = head.start.split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1].startswith(b"/"):
        raise HeadError(400, "malformed request line")
    if parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise HeadError(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    return Request(head, parts[0], parts[1], parts[2])


class Body:
    """Where a message body ends, fed the bytes that follow its head."""

    def consume(self, data: bytes | bytearray) -> tuple[int, bool]:
        """Return how many leading bytes of ``data`` belong to the body, and whether it ended."""
        raise NotImplementedError


class NoBody(Body):
    def consume(self, data: bytes | bytearray) -> tuple[int, bool]:
        return 0, True


class LengthBody(Body):
    def __init__(self, length: int) -> None:
        self.remaining = length

    def consume(self, data: bytes | bytearray) -> tuple[int, bool]:
        take = min(self.remaining, len(data))
        self.remaining -= take
        return take, self.remaining == 0


class ChunkedBody(Body):
    """Walks chunk sizes, data, CRLFs and trailers; the bytes themselves pass through.
    ``trailers=False`` (a request's): a trailer field is a 400, before it passes — it
    would reach the app unchecked (``X-Podium-User`` among them: the review of direct
    connections), and no browser sends one."""

    def __init__(self, trailers: bool = True) -> None:
        self.state = "size"
        self.remaining = 0
        self.line = b""
        self.trailers = trailers

    def consume(self, data: bytes | bytearray) -> tuple[int, bool]:
        i, n = 0, len(data)
        while i < n:
            if self.state == "data":
                take = min(self.remaining, n - i)
                i += take
                self.remaining -= take
                if self.remaining == 0:
                    self.state, self.remaining = "crlf", 2
            elif self.state == "crlf":
                expected = b"\r\n"[2 - self.remaining]
                if data[i] != expected:
                    raise HeadError(400, "malformed chunked body")
                i += 1
                self.remaining -= 1
                if self.remaining == 0:
                    self.state = "size"
            else:  # "size" or "trailer": a line each
                j = data.find(b"\n", i)
                if j < 0:
                    self.line += bytes(data[i:])
                    if len(self.line) > 4096:
                        raise HeadError(400, "chunk size line too long")
                    return n, False
                raw = self.line + bytes(data[i:j])
                self.line = b""
                i = j + 1
                if not raw.endswith(b"\r") or b"\r" in raw[:-1]:
                    raise HeadError(400, "a chunked body's line must end with CRLF")
                line = raw[:-1]
                if self.state == "trailer":
                    if not line:
                        return i, True
                    if not self.trailers:
                        raise HeadError(400, "a request's trailer fields are not accepted")
                    continue
                size = line.split(b";", 1)[0].strip()
                if not _HEX.match(size):
                    raise HeadError(400, "malformed chunk size")
                self.remaining = int(size, 16)
                self.state = "data" if self.remaining else "trailer"
        return n, False


def request_body(head: Head) -> Body:
    """The framing of a request body, refusing every ambiguous form."""
    encodings = head.get(b"Transfer-Encoding")
    lengths = head.get(b"Content-Length")
    if encodings:
        if lengths:
            raise HeadError(400, "both Content-Length and Transfer-Encoding")
        if len(encodings) != 1 or encodings[0].strip().lower() != b"chunked":
            raise HeadError(501, "only the chunked transfer coding is accepted")
        return ChunkedBody(trailers=False)
    if lengths:
        if len(set(lengths)) != 1 or not lengths[0].isdigit() or len(lengths[0]) > 15:
            raise HeadError(400, "malformed Content-Length")
        length = int(lengths[0])
        return LengthBody(length) if length else NoBody()
    return NoBody()


_STATUS_LINE = re.compile(rb"HTTP/1\.[01] [1-9][0-9][0-9](?: [^\r\n]*)?")


def response_problem(block: bytes) -> str | None:
    """What makes a response head framed or read differently by a browser than by the
    relay — a header no filter saw, a body end the two disagree on, so that a second
    response rides inside the first: the line rules of :func:`line_problem`; a header
    name that is no token (``Set-Cookie :``, which a browser still reads as Set-Cookie);
    Transfer-Encoding other than exactly ``chunked``, on HTTP/1.0 (which a browser
    ignores), or beside Content-Length; Content-Lengths that are no number or disagree."""
    problem = line_problem(block)
    if problem is not None:
        return problem
    start, *lines = block.split(b"\r\n")
    if not _STATUS_LINE.fullmatch(start):
        return "a malformed status line"
    names, values = [], []
    for line in lines:
        name, sep, value = line.partition(b":")
        if not sep or not name:
            return "a header line without a name"
        names.append(name)
        values.append((name.lower(), value.strip(b" \t")))
    if names and not _TOKEN.match(b"".join(names)):
        return "a header name that is no token"
    codings = [v.lower() for n, v in values if n == b"transfer-encoding"]
    lengths = {v for n, v in values if n == b"content-length"}
    if codings and (start.startswith(b"HTTP/1.0") or codings != [b"chunked"] or lengths):
        return "a Transfer-Encoding the browser would frame otherwise"
    if len(lengths) > 1 or any(not v.isdigit() or len(v) > 15 for v in lengths):
        return "a Content-Length that is no single number"
    return None


def status_code(block: bytes) -> int:
    """The status code of a response head; 0 when the status line is malformed."""
    parts = block.split(b" ", 2)
    return int(parts[1][:3]) if len(parts) > 1 and parts[1][:3].isdigit() else 0


def response_body(block: bytes, request_method: bytes) -> Body | None:
    """The framing of a response body; ``None`` means it runs until the connection closes.

    A scan of the head rather than a full parse: the guard only follows where
    responses end, it does not forward anything differently because of them.
    """
    code = status_code(block)
    if request_method == b"HEAD" or code in (204, 205, 304) or 100 <= code < 200:
        return NoBody()  # 205 too: a browser reads no body after it, whatever the head says
    lowered = block.lower()
    if _CHUNKED.search(lowered):
        return ChunkedBody()
    length = _LENGTH.search(lowered)
    if length:
        return LengthBody(int(length.group(1))) if int(length.group(1)) else NoBody()
    return None


def simple_response(
    status: int,
    reason: str,
    body: str,
    extra: tuple[tuple[str, str], ...] = (),
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """A complete response the guard writes itself; it always closes the connection."""
    payload = body.encode()
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
    lines += [f"{k}: {v}" for k, v in extra]
    lines += [f"Content-Length: {len(payload)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode() + payload


REASONS = {
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    400: "Bad Request",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


def refusal(status: int, text: str, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A short plain-text error answer that closes the connection."""
    return simple_response(status, REASONS.get(status, "Error"), f"{status} {text}\n", extra)
