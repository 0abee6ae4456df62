"""Podium's options for what reaches beyond the hub's users (``c.Podium.…``): share links
for people without an account, and metrics for the admin's Prometheus."""

from __future__ import annotations

from traitlets import Bool, Integer, Unicode
from traitlets.config import Configurable


class OutsideOptions(Configurable):
    share_links = Bool(
        False,
        help="Let owners make share links: a link to one of their dashboards for people "
        "without a hub account or outside its access list, valid until a date, revocable.",
    ).tag(config=True)
    share_link_max_days = Integer(30, help="The longest a share link may last, in days.").tag(
        config=True
    )
    metrics_token = Unicode(
        help="A token Prometheus must send to read <prefix>_/metrics (Authorization: Bearer "
        "…); empty: the metrics are open to anyone who reaches them (they name no viewer).",
    ).tag(config=True)
    metrics_per_dashboard = Bool(
        False,
        help="Also count proxied requests per dashboard (owner/name labels; needs metrics_token).",
    ).tag(config=True)
