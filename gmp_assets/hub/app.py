"""The hub's FastAPI application: pages, the JSON API, static files and error handling."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

import plotly
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gmp_assets.hub import api, pages
from gmp_assets.hub.auth import HubDatabase, HubError

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATIC = Path(__file__).parent / "static"
log = logging.getLogger("gmp.hub")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api") or request.url.path in ("/openapi.json",)


def _json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": message, "status": status},
        status_code=status,
        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
    )


def create_app(database_url: str) -> FastAPI:
    """The hub, connecting to PostgreSQL at ``database_url`` (as ``gmp_hub``, never a superuser)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.db.close()

    app = FastAPI(
        title="GMP forecast hub",
        description="Forecasts, benchmarks, the mapping review queue and alerts of the GMP forecasting platform."
        " Every request needs `Authorization: Bearer <token>` (`gmp access token create ROLE`); it"
        " sees only the projects its role may read. Money is in integer cents.",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.db = HubDatabase(database_url)

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError):
        return _json_error(exc.status, exc.message) if _wants_json(request) else pages.error_page(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _json_error(422, f"invalid request: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = str(exc.detail) if exc.status_code != 404 else f"no such page: {request.url.path}"
        return (
            _json_error(exc.status_code, message)
            if _wants_json(request)
            else pages.error_page(request, HubError(exc.status_code, message))
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return _json_error(500, f"internal error ({type(exc).__name__}); see the hub's log")

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js():
        return FileResponse(
            PLOTLY_JS, media_type="application/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        path = STATIC / name
        if path.parent != STATIC or not path.is_file():
            raise HubError(404, f"no static file {name!r}")
        return FileResponse(path)

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        return {"status": "ok"}

    app.include_router(api.router)
    app.include_router(pages.router)
    return app
