"""Serve a Dash script under the dashboard's prefix with a production WSGI server."""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import unquote

import dash
import waitress

from runners.shims import endpoint, fail, find_app, run_script


def main(entry: str) -> None:
    host, port, prefix = endpoint()
    # Flask routes the decoded path (/dashboards/o'neil/x/), while the page's own requests
    # keep the public spelling (/dashboards/o%27neil/x/): the two prefixes Dash tells apart.
    for key in ("DASH_URL_BASE_PATHNAME", "DASH_ROUTES_PATHNAME_PREFIX"):
        os.environ.pop(key, None)
    os.environ["DASH_ROUTES_PATHNAME_PREFIX"] = unquote(prefix)
    os.environ["DASH_REQUESTS_PATHNAME_PREFIX"] = prefix
    caught: list[Any] = []

    def record(self: dash.Dash, *args: Any, **kwargs: Any) -> None:
        caught.append(self)

    dash.Dash.run = record  # type: ignore[method-assign]
    namespace = run_script(entry)
    app = find_app(namespace, dash.Dash, caught)
    if app is None:
        fail(f"no Dash app found in {entry}: define one, e.g. app = dash.Dash(__name__)")
    served = app.config.requests_pathname_prefix
    if served != prefix:
        fail(
            f"the app serves under {served!r} but its dashboard URL is {prefix!r}: "
            "do not set url_base_pathname or requests_pathname_prefix yourself"
        )
    print(f"podium: serving Dash app on http://{host}:{port}{prefix}", flush=True)
    waitress.serve(app.server, host=host, port=port, threads=8, ident="", _quiet=True)


if __name__ == "__main__":
    main(sys.argv[1])
