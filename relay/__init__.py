"""The byte relay: HTTP/1.1 and WebSocket forwarding between a client and a target, with
a policy deciding each request. A library of its own: it imports nothing of the gateway
or the runner. Its two users are two small policies over it — the runner's guard
(runners.guard) and the gateway's front door (gateway.front.door).

- ``http1``: request and response heads, bodies, refusals (pure parsing);
- ``wsframes``: following WebSocket frame headers (message size limits);
- ``policy``: what a relay asks of its owner (:class:`Policy`) and the answers it takes;
- ``server``: the listening socket and one client connection's relay;
- ``upstream``: one connection to a target; ``pool``: idle ones kept for reuse.
"""
