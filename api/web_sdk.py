"""Self-hosted browser tracking libraries: what the official snippets fetch from a CDN, served by Veil.

- analytics.js (`@segment/analytics-next`): the snippet loads
  `{cdn}/analytics.js/v1/{writeKey}/analytics.min.js`, which fetches
  `{cdn}/v1/projects/{writeKey}/settings` and lazy chunks from `{cdn}/analytics-next/bundles/`.
  With Veil as `{cdn}`, a site changes only the CDN host of its snippet.
- RudderStack JS (`@rudderstack/analytics-js`): the bundled build at `/web-sdk/rudderstack/rsa.min.js`
  with `configUrl` pointing at Veil, which answers `/sourceConfig`.

The files come from the npm packages installed under `VEIL_COLLECT_WEB_SDK_DIR` (`make web-sdk`);
nothing is fetched from the internet, and the settings turn Segment's metrics beacon off.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from api.deps import ContainerDep, authenticate_source, write_key_from_header
from api.errors import ApiError
from graph.sources import SourceRecord

router = APIRouter(tags=["web sdk"])
SEGMENT_DIST = Path("@segment/analytics-next/dist/umd")
RUDDER_DIST = Path("@rudderstack/analytics-js/dist/npm")
_CHUNK = re.compile(r"^[A-Za-z0-9_.-]+\.js$")
_JS = "application/javascript; charset=utf-8"
_CACHE = {"Cache-Control": "public, max-age=300"}


def _asset(container: ContainerDep, relative: Path) -> FileResponse:
    path = container.collect.web_sdk_dir / relative
    if not path.is_file():
        raise ApiError(404, "web_sdk_missing",
                       f"{relative} is not installed under {container.collect.web_sdk_dir}; run `make web-sdk`")
    return FileResponse(path, media_type=_JS, headers=_CACHE)


def _known_source(container: ContainerDep, key: str | None) -> SourceRecord:
    """The source of a key; an unknown key looks like a missing document (as on Segment's CDN)."""
    try:
        return authenticate_source(container, key)
    except ApiError as exc:
        raise ApiError(404, "unknown_write_key", "no enabled source has this write key") from exc


def _collector(container: ContainerDep, request: Request) -> tuple[str, str]:
    """(protocol, host[:port]) of the collector as seen by the browser."""
    base = container.collect.public_url or str(request.base_url)
    protocol, _, rest = base.rstrip("/").partition("://")
    return protocol, rest


@router.get("/analytics.js/v1/{write_key}/analytics.min.js", summary="analytics.js for a write key")
async def segment_library(write_key: str, container: ContainerDep) -> FileResponse:
    """The analytics.js standalone build (what Segment's snippet loads from its CDN)."""
    _known_source(container, write_key)
    return _asset(container, SEGMENT_DIST / "standalone.js")


@router.get("/analytics-next/bundles/{name}", summary="analytics.js lazy chunks")
async def segment_chunk(name: str, container: ContainerDep) -> FileResponse:
    """A lazily loaded chunk of analytics.js."""
    if not _CHUNK.match(name):
        raise ApiError(404, "not_found", f"no bundle named {name[:100]}")
    return _asset(container, SEGMENT_DIST / name)


@router.get("/v1/projects/{write_key}/settings", summary="analytics.js settings for a write key")
async def segment_settings(write_key: str, request: Request, container: ContainerDep) -> JSONResponse:
    """The settings document analytics.js fetches: events go to this Veil, no destinations, no metrics."""
    _known_source(container, write_key)
    protocol, host = _collector(container, request)
    api_host = f"{host}/v1"
    body: dict[str, Any] = {
        "integrations": {"Segment.io": {
            "apiKey": write_key, "apiHost": api_host, "protocol": protocol,
            "unbundledIntegrations": [], "addBundledMetadata": False, "maybeBundledConfigIds": {},
            "versionSettings": {"version": "4.4.7", "componentTypes": ["browser"]},
        }},
        "plan": {"track": {"__default": {"enabled": True, "integrations": {}}},
                 "identify": {"__default": {"enabled": True}}, "group": {"__default": {"enabled": True}}},
        "edgeFunction": {}, "analyticsNextEnabled": True, "middlewareSettings": {}, "enabledMiddleware": {},
        "metrics": {"sampleRate": 0, "host": api_host}, "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
    return JSONResponse(body, headers=_CACHE)


@router.get("/web-sdk/rudderstack/rsa.min.js", summary="RudderStack JS (bundled build)")
async def rudder_library(container: ContainerDep) -> FileResponse:
    """RudderStack JS v3, bundled build (plugins included, so nothing else is loaded)."""
    return _asset(container, RUDDER_DIST / "modern/bundled/umd/index.js")


@router.get("/web-sdk/rudderstack/legacy/rsa.min.js", summary="RudderStack JS (bundled build, old browsers)")
async def rudder_library_legacy(container: ContainerDep) -> FileResponse:
    """RudderStack JS v3, bundled legacy build (with polyfills for old browsers)."""
    return _asset(container, RUDDER_DIST / "legacy/bundled/umd/index.js")


@router.get("/sourceConfig", summary="RudderStack source configuration")
@router.get("/sourceConfig/", include_in_schema=False)
async def rudder_source_config(request: Request, container: ContainerDep) -> JSONResponse:
    """What RudderStack JS fetches at load (`configUrl`): the source, enabled, with no destinations."""
    key = write_key_from_header(request.headers.get("authorization")) or request.query_params.get("writeKey")
    source = _known_source(container, key)
    return JSONResponse({
        "isHosted": False,
        "source": {
            "id": source.id, "name": source.name, "writeKey": key, "enabled": True,
            "workspaceId": source.workspace, "config": {}, "destinations": [],
        },
    })
