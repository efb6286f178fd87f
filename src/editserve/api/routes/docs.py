"""GET /docs: the OpenAPI browser, served from a packaged Swagger UI 5 (no CDN, works
offline; Swagger UI 4 cannot read the OpenAPI 3.1 document FastAPI writes).

The page shares its origin with the workbench, which keeps the API key in the browser, so
it gets a strict Content-Security-Policy: scripts, styles and fonts from this origin only,
no inline script (Swagger UI starts from /docs/init.js, not from a script in the page),
requests to this origin only, no framing. Swagger UI's validator badge (an image from
validator.swagger.io that would hand the document's URL to a third party) is off.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from editserve.api.pages import page_headers

ASSETS = "/docs/assets"
# swagger-ui-bundle.js, swagger-ui.css and the favicon of Swagger UI 5 (the fastapi-swagger
# package ships them; its FastAPI patch is not used: this module serves the page itself)
SWAGGER_UI = Path(str(resources.files("fastapi_swagger") / "resources"))
INIT_SCRIPT = "/docs/init.js"

# Swagger UI draws its icons as data: SVG images from its stylesheet; everything else it
# needs (its script, its stylesheet, the document, "Try it out") is on this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def docs_page(title: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{INIT_SCRIPT}"></script>
</body>
</html>
"""


def init_script(openapi_url: str) -> str:
    """What FastAPI's page runs inline (its default parameters), without the validator."""
    options = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "showExtensions": True,
        "showCommonExtensions": True,
        "validatorUrl": None,
    }
    return (
        f"window.ui = SwaggerUIBundle(Object.assign({json.dumps(options, indent=2)}, {{\n"
        "  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],\n"
        "}));\n"
    )


def install_docs(app: FastAPI) -> None:
    """Mount the Swagger UI files and the /docs page (the app is built with docs_url=None)."""
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_UI), name="docs-assets")
    page = docs_page(f"{app.title} API")
    script = init_script(app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=page_headers(CONTENT_SECURITY_POLICY))

    @app.get(INIT_SCRIPT, include_in_schema=False)
    async def docs_init() -> Response:
        return Response(
            script,
            media_type="text/javascript; charset=utf-8",
            headers=page_headers(CONTENT_SECURITY_POLICY),
        )
