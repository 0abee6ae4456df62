"""The gateway's application (aiohttp, on a private Unix socket behind the front door):
the REST API and its OpenAPI document, the pages, the form, templates and static files,
the wake-up and refusal pages of dashboard paths.
"""
