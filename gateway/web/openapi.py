"""The OpenAPI document of the REST API, served at ``<prefix>_/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from gateway.domain.dashboards import ACCESS_MODES, STATUSES
from runners import __version__

ERROR = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "integer"},
        "message": {
            "type": "string",
            "description": "What went wrong, in words a person can act on",
        },
        "field": {"type": "string", "description": "The request field at fault, when there is one"},
    },
}

SOURCE = {
    "oneOf": [
        {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"const": "storage"},
                "path": {"type": "string"},
                "volume": {
                    "type": "string",
                    "description": "a volume the admin shares with every user; absent or '' "
                    "for the owner's own storage",
                },
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["type", "url"],
            "properties": {
                "type": {"const": "git"},
                "url": {
                    "type": "string",
                    "description": "https://user:token@… for a private repository: the "
                    "login is kept encrypted with the dashboard's secrets, never shown",
                },
                "ref": {"type": "string"},
                "path": {"type": "string"},
                "credentials": {
                    "type": "boolean",
                    "description": "whether a login is kept for the repository; false forgets it",
                },
            },
            "additionalProperties": False,
        },
    ]
}

DASHBOARD = {
    "type": "object",
    "description": "Its managers (the owner, admins) get every field; a viewer who may not "
    "manage it gets its public face only: owner, name, title, description, framework, url, "
    "status.",
    "properties": {
        "owner": {"type": "string", "readOnly": True},
        "name": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"},
        "title": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 4000},
        "framework": {"type": "string"},
        "source": SOURCE,
        "entry": {"type": "string"},
        "access": {
            "type": "object",
            "properties": {
                "mode": {"enum": list(ACCESS_MODES)},
                "users": {"type": "array", "items": {"type": "string"}},
                "groups": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "command": {
            "type": "array",
            "items": {"type": "string"},
            "description": "framework 'custom' only: the command, with {port}, {prefix}, {entry}",
        },
        "secrets": {
            "description": "values given to the app as environment variables, kept "
            "encrypted; sent as {NAME: value, NAME: null to remove}, shown as their names",
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "null"]},
                    "writeOnly": True,
                },
                {"type": "array", "items": {"type": "string"}, "readOnly": True},
            ],
        },
        "idle_timeout": {"type": "integer"},
        "profile": {
            "type": "string",
            "description": "one of the resource profiles the admin offers ('': the default)",
        },
        "environment": {
            "type": "string",
            "description": "one of the Python environments the admin offers ('': the default)",
        },
        "url": {"type": "string", "readOnly": True},
        "status": {"enum": list(STATUSES), "readOnly": True},
        "message": {"type": "string", "readOnly": True},
        "created": {"type": "string", "format": "date-time", "readOnly": True},
        "updated": {"type": "string", "format": "date-time", "readOnly": True},
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {str(c): {"description": "error", **ref} for c in codes}


def _one(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dashboard"}}},
    }


def document(prefix: str) -> dict[str, Any]:
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dashboard"}}}}
    one = {
        "parameters": [
            {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
        ]
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Podium", "version": __version__},
        "servers": [{"url": f"{prefix}_/api"}],
        "components": {
            "schemas": {"Dashboard": DASHBOARD, "Error": ERROR},
            "securitySchemes": {
                "hubToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "'token <JupyterHub API token>'",
                },
            },
        },
        "security": [{"hubToken": []}],
        "paths": {
            "/dashboards": {
                "get": {
                    "summary": "Dashboards the caller may see",
                    "parameters": [
                        {"name": n, "in": "query", "schema": {"type": t}}
                        for n, t in (
                            ("owner", "string"),
                            ("framework", "string"),
                            ("offset", "integer"),
                            ("limit", "integer"),
                        )
                    ],
                    "responses": {
                        "200": {"description": "a page of dashboards"},
                        **_errors(400, 503),
                    },
                },
                "post": {
                    "summary": "Create a dashboard",
                    "requestBody": body,
                    "responses": {"201": _one("created"), **_errors(400, 401, 403, 409, 413, 503)},
                },
            },
            "/dashboards/{owner}/{name}": {
                **one,
                "get": {
                    "summary": "One dashboard",
                    "responses": {"200": _one("the dashboard"), **_errors(404)},
                },
                "patch": {
                    "summary": "Change a dashboard (owner and admins)",
                    "requestBody": body,
                    "responses": {"200": _one("changed"), **_errors(400, 401, 403, 404, 413)},
                },
                "delete": {
                    "summary": "Delete a dashboard (owner and admins)",
                    "responses": {"204": {"description": "deleted"}, **_errors(401, 403, 404)},
                },
            },
            **{
                f"/dashboards/{{owner}}/{{name}}/{action}": {
                    **one,
                    "post": {
                        "summary": summary,
                        "responses": {code: {"description": status}, **_errors(401, 403, 404)},
                    },
                }
                for action, summary, code, status in (
                    ("start", "Start it (owner and admins)", "202", "starting"),
                    ("stop", "Stop it (owner and admins)", "200", "stopped"),
                    ("restart", "Restart it (owner and admins)", "202", "starting"),
                )
            },
            "/dashboards/{owner}/{name}/logs": {
                **one,
                "get": {
                    "summary": "The runner's last lines (owner and admins)",
                    "parameters": [{"name": "lines", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "lines"}, **_errors(400, 401, 403, 404)},
                },
            },
            "/dashboards/{owner}/{name}/events": {
                **one,
                "get": {
                    "summary": "A start's progress, as server-sent events",
                    "responses": {
                        "200": {"description": "text/event-stream of {status, message, elapsed}"},
                        **_errors(404),
                    },
                },
            },
            "/dashboards/{owner}/{name}/links": {
                **one,
                "get": {
                    "summary": "Its share links (owner and admins; c.Podium.share_links)",
                    "responses": {
                        "200": {"description": "{items: [link]}"},
                        **_errors(401, 403, 404),
                    },
                },
                "post": {
                    "summary": "Make a share link: {days, note}; its url is shown once",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "days": {"type": "integer"},
                                        "note": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {"description": "the link, with its url"},
                        **_errors(400, 401, 403, 404, 409, 413),
                    },
                },
            },
            "/dashboards/{owner}/{name}/links/{link}": {
                "parameters": [
                    *one["parameters"],
                    {"name": "link", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "delete": {
                    "summary": "Revoke a share link at once",
                    "responses": {"204": {"description": "revoked"}, **_errors(401, 403, 404)},
                },
            },
            "/files": {
                "get": {
                    "summary": "Folders and notebooks/scripts of the caller's storage, or "
                    "of a shared volume",
                    "parameters": [
                        {"name": "path", "in": "query", "schema": {"type": "string"}},
                        {"name": "volume", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {"description": "{path, entries: [{name, type}]}"},
                        **_errors(400, 401, 404),
                    },
                },
            },
            "/user": {
                "get": {"summary": "The caller", "responses": {"200": {"description": "user"}}}
            },
            "/groups": {
                "get": {
                    "summary": "The hub's groups, which a dashboard may be shared with",
                    "responses": {"200": {"description": "{items: [name]}"}, **_errors(401)},
                }
            },
        },
    }
