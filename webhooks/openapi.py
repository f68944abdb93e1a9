"""The OpenAPI 3.1 description of the api service (served at GET /docs/openapi.json)."""

from __future__ import annotations

from . import __version__


def _err(desc: str) -> dict:
    return {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


AUTH_ERRORS = {
    "401": _err("no token: `{\"error\": \"authentication required\"}`"),
    "404": _err("unknown token: `{\"error\": \"not found\"}`"),
    "503": _err("storage unavailable"),
}


def spec() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "webhooks.app api",
            "version": __version__,
            "description": "Create a webhook, POST JSON payloads to it, read its history. "
                           "New payloads are also pushed live over the ws service (`/ws?token=`).",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "the webhook token (30 hex characters)"},
                "query": {"type": "apiKey", "in": "query", "name": "token"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Webhook": {
                    "type": "object", "required": ["name", "token", "created_at"],
                    "properties": {
                        "name": {"type": "string", "example": "brave-teal-otter"},
                        "token": {"type": "string", "pattern": "^[0-9a-f]{30}$"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Payload": {
                    "type": "object", "required": ["content", "created_at"],
                    "properties": {
                        "content": {"oneOf": [{"type": "object"}, {"type": "string", "minLength": 1}]},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
        "security": [{"bearer": []}, {"query": []}],
        "paths": {
            "/wh": {
                "get": {
                    "summary": "Create a webhook", "security": [],
                    "responses": {"201": {"description": "created", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Webhook"}}}}, "503": _err("storage unavailable")},
                },
                "delete": {
                    "summary": "Delete the webhook and all of its payloads",
                    "responses": {"200": {"description": "`{\"info\": \"webhook <name> deleted\"}`"}, **AUTH_ERRORS},
                },
            },
            "/wh/info": {"get": {
                "summary": "Webhook details",
                "responses": {"200": {"description": "`{\"info\": {name, created_at, payload_nbr, last_payload_date}}`; "
                                                     "last_payload_date is \"N/A\" when there is none"},
                              **AUTH_ERRORS},
            }},
            "/data": {
                "post": {
                    "summary": "Receive a payload",
                    "description": "Stored first, then published on NATS `data.<name>` as `{content, created_at}`.",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "oneOf": [{"type": "object"}, {"type": "string", "minLength": 1}]}}}},
                    "responses": {
                        "201": {"description": "`{\"info\": \"payload saved\"}`"},
                        "400": _err("empty, unparsable, not an object or non-empty string, or not application/json"),
                        "413": _err("larger than MAX_PAYLOAD_BYTES, or more than MAX_JSON_VALUES JSON values"),
                        **AUTH_ERRORS,
                    },
                },
                "get": {
                    "summary": "Payload history, newest first",
                    "parameters": [{"name": "nbr", "in": "query", "schema": {
                        "type": "integer", "default": 20, "minimum": 1, "maximum": 100},
                        "description": "how many (capped at 100; not an integer or < 1 -> 20)"}],
                    "responses": {"200": {"description": "`{\"webhook\": name, \"data\": [Payload]}`", "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "webhook": {"type": "string"},
                            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Payload"}}}}}}},
                        **AUTH_ERRORS},
                },
            },
            "/stats": {"get": {
                "summary": "Counts", "security": [],
                "responses": {"200": {"description": "`{\"stats\": {number_of_webhooks, number_of_payloads_received}}`"}},
            }},
            "/app/healthz": {"get": {"summary": "Liveness (no dependencies)", "security": [],
                                     "responses": {"200": {"description": "`{}`"}}}},
            "/app/readyz": {"get": {"summary": "Readiness: MongoDB answers a ping and NATS is connected",
                                    "security": [],
                                    "responses": {"200": {"description": "ready"}, "503": _err("not ready")}}},
        },
    }
