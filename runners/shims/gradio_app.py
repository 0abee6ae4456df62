"""Serve a Gradio script behind the dashboard's prefix (the guard removes the prefix)."""

from __future__ import annotations

import sys
from typing import Any

import gradio

from runners.shims import endpoint, fail, find_app, run_script


def main(entry: str) -> None:
    host, port, prefix = endpoint()
    caught: list[Any] = []
    launch = gradio.Blocks.launch

    def record(self: gradio.Blocks, *args: Any, **kwargs: Any) -> None:
        caught.append(self)

    gradio.Blocks.launch = record  # type: ignore[method-assign,assignment]
    namespace = run_script(entry)
    blocks = find_app(namespace, gradio.Blocks, caught)
    if blocks is None:
        fail(f"no Gradio app found in {entry}: define one, e.g. demo = gr.Interface(...)")
    print(f"podium: serving Gradio app on http://{host}:{port} as {prefix}", flush=True)
    launch(
        blocks,
        server_name=host,
        server_port=port,
        root_path=prefix.rstrip("/"),
        share=False,
        inbrowser=False,
        ssr_mode=False,
        show_error=False,
        quiet=True,
    )


if __name__ == "__main__":
    main(sys.argv[1])
