"""The dashboard the hub serves at ``/``: three static files (``static/``: no build step, no outside
library) and the read endpoints they use besides the fleet API: an event stream that says when the
report changed, and an env's pin, rollout, history and next-promotion plan.

Reads follow the API's rule (open on the hub's listen address). The only action, "sync now", is
``POST /api/v1/sync`` with the bearer token, which the page sends in a header from JavaScript: a form
or page of another site can neither read the token nor set that header (and the hub answers no CORS
preflight), so cross-site requests cannot act. Every response carries a strict Content-Security-Policy:
the page runs only its own script, and it writes text from reports with ``textContent``, never as HTML.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

from aiohttp import web

from fleet.errors import FleetError
from fleet.hub.core import Hub
from fleet.hub.replies import error_reply, json_reply
from fleet.model.promotion import Record
from fleet.workflows.promotion import history, plan_promotion, promotion_from_reports, read_pin

STATIC = {  # the only files served: name -> content type
    "app.js": "text/javascript",
    "style.css": "text/css",
}
KEEPALIVE = 15.0  # seconds between comments on an idle event stream (proxies close silent connections)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CLOSING = web.AppKey("closing", asyncio.Event)
PLANS = web.AppKey("plans", dict)
PLAN_LOCK = web.AppKey("plan_lock", asyncio.Lock)


def _static(name: str) -> bytes:
    return resources.files("fleet.hub").joinpath("static", name).read_bytes()


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    if not response.prepared:  # an event stream sets its own before it starts
        response.headers.update(SECURITY_HEADERS)
    return response


def add_dashboard(app: web.Application, hub: Hub) -> None:
    app[CLOSING] = asyncio.Event()
    app[PLANS] = {}
    app[PLAN_LOCK] = asyncio.Lock()
    routes = web.RouteTableDef()

    async def closing(_app: web.Application) -> None:
        app[CLOSING].set()  # open event streams end, so that the hub stops without waiting for browsers

    app.on_shutdown.append(closing)

    @routes.get("/")
    async def index(_request: web.Request) -> web.Response:
        return web.Response(body=_static("index.html"), content_type="text/html", charset="utf-8")

    @routes.get("/static/{name}")
    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return web.Response(body=_static(name), content_type=STATIC[name], charset="utf-8")

    @routes.get("/api/v1/events")
    async def events(request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``fleet`` with the change version whenever the report changes."""
        response = web.StreamResponse(headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream"})
        await response.prepare(request)
        version = -1
        stop = asyncio.ensure_future(app[CLOSING].wait())
        try:
            while not stop.done():
                moved = asyncio.ensure_future(hub.changes.wait(version, KEEPALIVE))
                await asyncio.wait({moved, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not moved.done():
                    moved.cancel()
                    break
                if moved.result() != version:
                    version = moved.result()
                    await response.write(f"event: fleet\ndata: {version}\n\n".encode())
                else:
                    await response.write(b": idle\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            stop.cancel()
        return response

    @routes.get("/api/v1/envs/{env}")
    async def env_view(request: web.Request) -> web.Response:
        env = request.match_info["env"]
        workspace = _workspace(hub)
        if env not in workspace.registry.envs:
            return error_reply(404, f"unknown env {env!r}; envs: {', '.join(workspace.registry.envs) or 'none'}")
        try:
            pin = read_pin(workspace.snapshot, env)
        except FleetError as exc:
            pin_data: dict[str, Any] = {"error": str(exc)}
        else:
            pin_data = {"revision": pin.revision, "values": pin.values}
        records = await asyncio.to_thread(history, hub.git.repository, env, ref=workspace.snapshot.revision, limit=20)
        rollout = hub.rollouts.get(env)
        sources = [r.data.get("from") for r in records if r.data.get("kind") == "promotion" and r.data.get("from")]
        return json_reply(
            {
                "env": env,
                "revision": workspace.snapshot.revision,
                "pin": pin_data,
                "rollout": rollout.to_dict() if rollout else None,
                "history": [_record(r) for r in records],
                "promotedFrom": sources[0] if sources else None,
                "envs": list(workspace.registry.envs),
                "clusters": [c.name for c in workspace.registry.clusters if c.env == env],
            }
        )

    @routes.get("/api/v1/envs/{env}/plan")
    async def plan(request: web.Request) -> web.Response:
        """``fleet promote --from SOURCE --to ENV --dry-run``: gates on the hub's live reports, then server-side
        dry runs on ENV's clusters. Cached by revision and pins: reloading the page sends no new dry runs."""
        env, source = request.match_info["env"], request.query.get("from", "")
        workspace = _workspace(hub)
        try:
            promotion = promotion_from_reports(
                workspace, hub.git.repository, list(hub.state.reports.values()), source=source, target=env
            )
        except FleetError as exc:
            return error_reply(400, str(exc))
        key = (workspace.snapshot.revision, source, env, promotion.pin.revision, repr(promotion.pin.values))
        cache: dict[tuple[str, ...], asyncio.Task[Any]] = app[PLANS]
        # One plan at a time and one kept: anyone who can read can ask for a plan, and each costs a dry
        # run per cluster of the env, so requests never pile up dry runs on the clusters.
        async with app[PLAN_LOCK]:
            if key not in cache:
                cache.clear()
                cache[key] = asyncio.ensure_future(plan_promotion(workspace, promotion))
            try:
                changes = await asyncio.shield(cache[key])
            except FleetError as exc:
                cache.pop(key, None)  # asked again, it is tried again
                return error_reply(502, f"plan failed: {exc}")
        return json_reply(
            {
                "from": source,
                "to": env,
                "pin": {"revision": promotion.pin.revision, "values": promotion.pin.values},
                "gates": [g.to_dict() for g in promotion.gates],
                "refusal": promotion.refusal(),
                "clusters": [c.to_dict() for c in changes],
            }
        )

    app.add_routes(routes)


def _workspace(hub: Hub) -> Any:
    if hub.workspace is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "the hub has not loaded a revision yet"}', content_type="application/json"
        )
    return hub.workspace


def _record(record: Record) -> dict[str, Any]:
    data = record.to_dict()
    return {
        k: data.get(k) for k in ("commit", "when", "author", "kind", "from", "revision", "gates", "forced", "message")
    }
