"""The studio's web layer: a FastAPI app over a :class:`~latentatlas.studio.core.Studio`.

Endpoints (JSON unless noted; errors are ``{"detail": message}`` with a 4xx status):

- ``GET /``: the page (static HTML + JS, no external resources);
- ``GET /api/info``: models, direction sets, attributes, limits;
- ``POST /api/seed`` ``{model, seed, truncation}``: a new base from a seed, rendered;
- ``POST /api/upload?model=M`` (raw image bytes as the body): frame, encode, refine; rendered;
- ``POST /api/render`` ``{base, edits: [{set, name, alpha, layers, conditional}]}``: image (a
  PNG data URL) and predictor scores;
- ``POST /api/save`` ``{base, edits, name}``: code, image, edit list and directions written to
  the output folder.

Needs the ``studio`` extra (``pip install latentatlas[studio]``: fastapi, uvicorn).
"""


from importlib import resources
from typing import Any

from latentatlas.studio.core import MAX_UPLOAD_BYTES, Studio, StudioError

MISSING_DEPS = ("the studio needs FastAPI and uvicorn: pip install 'latentatlas[studio]' "
                "(fastapi, uvicorn)")


def create_app(studio: Studio) -> Any:
    """The FastAPI application serving ``studio``."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.concurrency import run_in_threadpool
        from fastapi.responses import HTMLResponse, JSONResponse
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise StudioError(MISSING_DEPS) from e

    app = FastAPI(title="latentatlas studio", docs_url=None, redoc_url=None, openapi_url=None)
    page = resources.files("latentatlas.studio").joinpath("static/index.html").read_text("utf-8")

    @app.exception_handler(StudioError)
    async def _studio_error(request: Request, exc: StudioError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    async def _json(request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > 1 << 20:
            raise StudioError("request too large", 413)
        try:
            import json

            data = json.loads(body or b"{}")
        except ValueError as e:
            raise StudioError("the request body must be JSON") from e
        if not isinstance(data, dict):
            raise StudioError("the request body must be a JSON object")
        return data

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        return studio.info()

    @app.post("/api/seed")
    async def seed(request: Request) -> dict[str, Any]:
        d = await _json(request)
        return await run_in_threadpool(studio.new_seed, d.get("model"), d.get("seed"),
                                       d.get("truncation", 0.7))

    @app.post("/api/render")
    async def render(request: Request) -> dict[str, Any]:
        d = await _json(request)
        return await run_in_threadpool(studio.render, d.get("base"), d.get("edits", []))

    @app.post("/api/save")
    async def save(request: Request) -> dict[str, Any]:
        d = await _json(request)
        return await run_in_threadpool(studio.save, d.get("base"), d.get("edits", []),
                                       d.get("name", "edit"))

    @app.post("/api/upload")
    async def upload(request: Request, model: str) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            raise StudioError(f"the upload is {int(declared) / 2**20:.1f} MiB; the limit is "
                              f"{MAX_UPLOAD_BYTES >> 20} MiB", 413)
        ctype = request.headers.get("content-type", "")
        if ctype and not (ctype.startswith("image/") or ctype == "application/octet-stream"):
            raise StudioError(f"uploads must be images (got content type {ctype!r})", 415)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise StudioError(f"the upload is larger than the {MAX_UPLOAD_BYTES >> 20} MiB "
                                  "limit", 413)
            chunks.append(chunk)
        return await run_in_threadpool(studio.upload, model, b"".join(chunks))

    return app


def serve(studio: Studio, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Run the app with uvicorn (blocking)."""
    try:
        import uvicorn
    except ImportError as e:  # pragma: no cover
        raise StudioError(MISSING_DEPS) from e
    uvicorn.run(create_app(studio), host=host, port=port, log_level="warning")
