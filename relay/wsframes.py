"""A bound on the WebSocket messages a client sends through a tunnel (RFC 6455 framing).

The relay tunnels a WebSocket's bytes as they come; :class:`MessageLimit` reads only the
frame headers going by (never holding a payload) and says when a message — its fragments
added up — grows over the limit, before the frame that crosses it is passed on. The
viewer then gets a Close frame with code 1009 ("message too big") and the tunnel ends.
"""

from __future__ import annotations

import struct

TOO_BIG = 1009
CONTROL = 0x8  # opcodes 8-15: close, ping, pong (never fragmented, at most 125 bytes)


def close_frame(code: int, reason: str) -> bytes:
    """A server's (unmasked) Close frame."""
    payload = struct.pack("!H", code) + reason.encode()[:123]
    return bytes([0x88, len(payload)]) + payload


class MessageLimit:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = bytearray()  # a frame header split across reads
        self._left = 0  # payload bytes of the current frame still to go by
        self._message = 0  # bytes of the current message so far

    def over(self, data: bytes) -> bool:
        """Follow ``data``, the next bytes from the client: True once a frame is malformed
        or a message is over the limit (``data`` should then not be passed on)."""
        if not self._head and self._left >= len(data):  # inside a payload: the common case
            self._left -= len(data)
            return False
        if self._head:  # a header split across reads (rare): join it to what follows
            data, at = bytes(self._head) + data, 0
            self._head.clear()
        else:
            at, self._left = self._left, 0
        end = len(data)
        while at < end:
            size = header_size(data[at : at + 2])
            if size is None or end - at < size:
                self._head += data[at:]
                return False
            if self._frame(data[at : at + size]):
                return True
            at += size
            step = min(self._left, end - at)
            self._left -= step
            at += step
        return False

    def _frame(self, header: bytes) -> bool:
        """A frame begins: True when it breaks the limit (or the framing)."""
        opcode, final = header[0] & 0x0F, header[0] & 0x80
        length = payload_length(header)
        self._left = length
        if opcode >= CONTROL:
            return length > 125 or not final
        self._message += length
        if self._message > self.limit:
            return True
        if final:
            self._message = 0
        return False


def header_size(start: bytes | bytearray) -> int | None:
    """Bytes of the frame header beginning ``start``; None until two bytes are known."""
    if len(start) < 2:
        return None
    short = start[1] & 0x7F
    extra = 2 if short == 126 else 8 if short == 127 else 0
    return 2 + extra + (4 if start[1] & 0x80 else 0)


def payload_length(header: bytes) -> int:
    short = header[1] & 0x7F
    if short == 126:
        return int(struct.unpack_from("!H", header, 2)[0])
    if short == 127:
        return int(struct.unpack_from("!Q", header, 2)[0])
    return short
