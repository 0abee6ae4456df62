"""Upgrades of stored data that need the admin's configuration (the schema's are
Alembic's, in gateway/migrations, applied before).

Each is idempotent and safe when several gateways start at once: they write the same.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from gateway.domain.secrets import GIT, Crypt, merge, split_credentials
from gateway.domain.store import Store

log = logging.getLogger("podium.upgrades")


async def move_git_credentials(store: Store, crypt: Crypt | None) -> int:
    """Git credentials that versions before 0006 kept in source URLs, into the
    dashboards' encrypted secrets; how many dashboards still hold some in a URL (a
    warning says what to do: without a key they stay, never shown, until one is set)."""
    left = 0
    for dashboard in await store.list():
        url, userinfo = split_credentials(dashboard.source.url)
        if dashboard.source.type != "git" or not userinfo:
            continue
        if crypt is None:
            left += 1
            continue
        secrets = merge(dashboard.secrets, {GIT: userinfo}, crypt)
        source = replace(dashboard.source, url=url).as_json()
        await store.set_source(*dashboard.key, source, secrets)
        log.info("moved the git credentials of %s/%s into its secrets", *dashboard.key)
    if left:
        log.warning(
            "%d dashboards keep git credentials in their repository URL, as earlier versions "
            "stored them (never shown): set $PODIUM_CRYPT_KEY (docs/admin.md, Secrets) and "
            "Podium encrypts them at its next start",
            left,
        )
    return left
