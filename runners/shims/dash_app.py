"""Serve a Dash script under the dashboard's prefix with a production WSGI server."""

from __future__ import annotations

import sys
from typing import Any

import dash
import waitress

from runners.shims import endpoint, fail, find_app, run_script


def main(entry: str) -> None:
    host, port, prefix = endpoint()
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
