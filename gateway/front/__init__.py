"""The front door: the gateway's public listener, a small policy over the byte relay
(relay/), and what it decides with per request — dashboard origins, sign-in codes,
forwarding rules, per-viewer limits.
"""
