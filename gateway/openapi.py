"""The OpenAPI document and ``/docs``, served offline.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package (no CDN), under
``/docs/assets``. The document declares the write-key security scheme and, for every operation,
each status and body the API really answers: the ingestion endpoints read their own bodies
(to bound them before parsing), so their request schemas are added here from the models, and
the messaging pages (pixel, redirects, HTML pages) get their real media types.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from gateway.models import Alias, BatchRequest, ErrorBody, Group, Identify, Page, Screen, Track

ASSETS = "/docs/assets"
SECURITY: list[dict[str, list[str]]] = [{"writeKeyBasic": []}, {"writeKeyBearer": []}]
SECURITY_SCHEMES = {
    "writeKeyBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "The write key as user name, empty password (what Segment's SDKs send). "
        'A "writeKey" field in the JSON body is accepted too.',
    },
    "writeKeyBearer": {"type": "http", "scheme": "bearer", "description": "The write key."},
}
REQUEST_MODELS = (Identify, Track, Page, Screen, Group, Alias, BatchRequest)


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description, **extra}


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: _error("The body is not JSON, or not the gzip it says it is."),
    401: _error(
        "No write key, or not a valid one; nothing was stored. Without a key in the header the "
        "body is read to find `writeKey`, and one that cannot be read is a 401 as well.",
        headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    405: _error("Only POST is allowed.", headers={"Allow": {"schema": {"type": "string"}}}),
    413: _error("Over a size limit (32 KB a call, 500 KB a batch, traits, context)."),
    415: _error("Not JSON (Content-Type), or an encoding other than gzip."),
    422: _error("A field is missing or invalid; `field` names it."),
    429: _error(
        "Over this write key's rate limit; retry after `Retry-After` seconds.",
        headers={"Retry-After": {"schema": {"type": "integer"}}},
    ),
}


def ingestion_doc(model: str) -> dict[str, Any]:
    """``add_api_route`` keyword arguments documenting an ingestion endpoint's body and refusals."""
    body = {"$ref": f"#/components/schemas/{model}"}
    return {
        "responses": REFUSALS,
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body}},
                "description": "JSON, optionally with `Content-Encoding: gzip`.",
            },
            "security": SECURITY,
        },
    }


def _json(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


# What the messaging pages really answer (they build their responses by hand).
PAGES: dict[tuple[str, str], dict[str, Any]] = {
    ("/t/o/{token}", "get"): {
        "200": {
            "description": "A 1×1 transparent GIF, whatever the token (a broken image helps "
            "nobody); a valid token records `Email Opened`.",
            "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
    ("/t/c/{token}", "get"): {
        "302": {
            "description": "Redirect to the link of the message; records `Email Link Clicked`.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        "400": _json("A forged or altered link."),
        "404": _json("The message or link is unknown."),
    },
    ("/u/{token}", "post"): {
        "200": _json("Unsubscribed (idempotent)."),
        "400": _json("A forged or altered link."),
    },
    ("/u/{token}", "get"): {"200": _html("The preference centre."), "400": _html("Bad link.")},
    ("/u/{token}/preferences", "post"): {
        "200": _html("Preferences saved."),
        "400": _html("Bad link."),
    },
    ("/optin/{token}", "get"): {"200": _html("Confirm page."), "400": _html("Bad link.")},
    ("/optin/{token}", "post"): {
        "200": _html("Subscription confirmed."),
        "400": _html("Bad link."),
        "409": _html("The subscription was withdrawn since."),
    },
    ("/s/{token}/{answer}", "get"): {
        "200": _html("A page that posts the answer (link scanners record nothing)."),
        "400": _html("Bad link or answer."),
    },
    ("/s/{token}/{answer}", "post"): {
        "200": _html("Answer recorded as `Survey Answered` (the first answer stands)."),
        "400": _html("Bad link or answer."),
    },
    ("/webhooks/postmark", "post"): {
        "400": _json("Not a JSON object."),
        "401": _json("Wrong or missing Basic credentials (or none configured)."),
    },
    ("/webhooks/sendgrid", "post"): {
        "400": _json("Not a JSON array of events."),
        "401": _json("Bad or stale signature (or no key configured)."),
    },
    ("/webhooks/mailgun", "post"): {
        "400": _json("Not a Mailgun event."),
        "401": _json("Bad or stale signature (or no key configured)."),
        "409": _json("A signature already used (a replay)."),
    },
}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with request schemas, security and real page responses."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = doc.setdefault("components", {})
    _, defs = models_json_schema(
        [(model, "validation") for model in REQUEST_MODELS],
        ref_template="#/components/schemas/{model}",
    )
    schemas = components.setdefault("schemas", {})
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    components["securitySchemes"] = SECURITY_SCHEMES
    for (path, method), responses in PAGES.items():
        operation = doc.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["responses"] = {**operation.get("responses", {}), **responses}
            if "200" not in responses:
                operation["responses"].pop("200", None)
    app.openapi_schema = doc
    return doc


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` from the packaged Swagger UI and the document from :func:`build_openapi`."""
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
