"""The hub's HTTP API (aiohttp). Reads are open on the hub's listen address (loopback by default);
POST /api/v1/sync needs the bearer token; the Git webhook needs a valid GitHub HMAC signature or GitLab
token. Rejected requests are logged without their payload."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from aiohttp import web

from fleet.errors import FleetError
from fleet.hub.core import Hub
from fleet.hub.dashboard import add_dashboard, security_headers
from fleet.hub.peers import FORWARDED
from fleet.hub.replies import dumps, error_reply, json_reply
from fleet.model.cluster import Selection
from fleet.selector import parse_selector

MAX_BODY = 1024 * 1024
HUB_KEY = web.AppKey("hub", Hub)


def verify_github(secret: str, body: bytes, signature: str | None) -> bool:
    if not signature or not signature.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), _header_bytes(signature))


def verify_gitlab(secret: str, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(secret.encode(), _header_bytes(token))


def _header_bytes(value: str) -> bytes:
    """A header as bytes for a constant-time comparison; any character (non-ASCII, lone surrogates) is
    compared, never an error."""
    return value.encode("utf-8", "backslashreplace")


def _names(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"`{key}` must be a list of names")
    return tuple(value)


@web.middleware
async def _no_tracebacks(request: web.Request, handler: Any) -> web.StreamResponse:
    """An unexpected failure answers 500 with one line and is logged by type, never with a traceback or
    the request's payload."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException:
        raise
    except Exception as exc:
        hub = request.app[HUB_KEY]
        hub.log("api_error", path=request.path, error=type(exc).__name__)
        return error_reply(500, f"internal error ({type(exc).__name__})")


def make_app(hub: Hub) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[security_headers, _no_tracebacks])
    app[HUB_KEY] = hub
    routes = web.RouteTableDef()

    def cluster_report(request: web.Request) -> Any:
        name = request.match_info["name"]
        reports = hub.all_reports()
        report = reports.get(name)
        if report is None:
            known = ", ".join(sorted(reports)) or "none"
            raise web.HTTPNotFound(
                text=dumps({"error": f"unknown cluster {name!r}; known clusters: {known}"}),
                content_type="application/json",
            )
        return report

    @routes.get("/api/v1/fleet")
    async def fleet(request: web.Request) -> web.Response:
        """The fleet report; ``?env=a,b`` and ``?selector=...`` choose clusters as the CLI's flags do."""
        try:
            selector = request.query.get("selector", "").strip()
            envs = tuple(e for e in request.query.get("env", "").split(",") if e)
            selection = Selection(envs=envs, selector=parse_selector(selector) if selector else None)
            report = hub.report().selected(selection)
        except (ValueError, FleetError) as exc:
            return error_reply(400, f"bad request: {exc}")
        # ?brief=1: without drift items and objects (the dashboard's matrix needs only the counts).
        data = report.to_dict(with_items=request.query.get("brief") not in ("1", "true"))
        data["version"] = hub.changes.version  # the dashboard compares it with its event stream's
        data["revision"] = hub.state.revision
        data["gitError"] = hub.state.git_error
        data["rollouts"] = [r.to_dict() for _, r in sorted(hub.rollouts.items())]
        return json_reply(data)

    @routes.get("/api/v1/shard")
    async def shard(request: web.Request) -> web.Response:
        """This replica's own reports (the clusters whose Leases it holds), for its peers: answered when
        they changed since version ``since``, else after ``wait`` seconds (at most 30)."""
        try:
            since = int(request.query.get("since", "-1"))
            wait = min(30.0, max(0.0, float(request.query.get("wait", "0"))))
        except ValueError:
            return error_reply(400, "bad request: `since` is a version number and `wait` a number of seconds")
        version = await hub.local_changes.wait(since, wait)
        reports = [hub.state.reports[n].to_dict(with_items=True) for n in sorted(hub.state.reports)]
        return json_reply({"identity": hub.options.identity, "version": version, "clusters": reports})

    @routes.get("/api/v1/clusters/{name}")
    async def cluster(request: web.Request) -> web.Response:
        return json_reply(cluster_report(request).to_dict())

    @routes.get("/api/v1/clusters/{name}/drift")
    async def drift(request: web.Request) -> web.Response:
        return json_reply(cluster_report(request).to_dict(with_items=True))

    @routes.post("/api/v1/sync")
    async def sync(request: web.Request) -> web.Response:
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            hub.log("api_denied", path=request.path, remote=request.remote, origin="foreign")
            return error_reply(403, "cross-origin requests are refused")
        token = hub.options.token
        given = request.headers.get("Authorization", "")
        if not token or not hmac.compare_digest(_header_bytes(given), f"Bearer {token}".encode()):
            hub.log("api_denied", path=request.path, remote=request.remote)
            return error_reply(401, "a valid bearer token is required")
        try:
            body = await request.json() if request.can_read_body else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            selector = body.get("selector")
            if selector is not None and not isinstance(selector, str):
                raise ValueError("`selector` must be a label selector string")
            unknown = sorted(set(body) - {"clusters", "envs", "selector"})
            if unknown:
                raise ValueError(f"unknown field {unknown[0]!r}; known: clusters, envs, selector")
            selection = Selection(
                clusters=_names(body, "clusters"),
                envs=_names(body, "envs"),
                selector=parse_selector(selector) if selector else None,
            )
            triggered = hub.request_sync(selection)
        except (ValueError, TypeError) as exc:
            return error_reply(400, f"bad request: {exc}")
        except FleetError as exc:
            return error_reply(400, str(exc))
        reply: dict[str, Any] = {"triggered": triggered}
        if hub.replication is not None and FORWARDED not in request.headers:
            # The other replicas hold the other clusters: the same request, once, to each of them.
            forwarded, unreached = await hub.replication.peers.forward_sync(body, given)
            reply["triggered"] = sorted({*triggered, *forwarded})
            if unreached:
                reply["unreached"] = unreached
        return json_reply(reply, 202)

    @routes.post("/api/v1/webhooks/git")
    async def webhook(request: web.Request) -> web.Response:
        secret = hub.options.webhook_secret
        body = await request.read()
        github = request.headers.get("X-Hub-Signature-256")
        gitlab = request.headers.get("X-Gitlab-Token")
        valid = bool(secret) and (
            verify_github(secret or "", body, github) if github is not None else verify_gitlab(secret or "", gitlab)
        )
        if not valid:
            hub.log(
                "webhook_denied",
                remote=request.remote,
                bytes=len(body),
                signed=github is not None or gitlab is not None,
            )
            return error_reply(401, "invalid or missing webhook signature")
        hub.log("webhook", remote=request.remote, bytes=len(body))
        hub.fetch_now.set()
        return json_reply({"fetch": "scheduled"}, 202)

    @routes.get("/healthz")
    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    @routes.get("/readyz")
    async def readyz(_request: web.Request) -> web.Response:
        if hub.replication is not None and not hub.replication.shards.ready.is_set():
            return web.Response(status=503, text="not ready: the management cluster's Leases not read yet\n")
        if hub.state.ready and hub.polling:
            return web.Response(text="ok\n")
        if hub.state.ready:
            return web.Response(status=503, text="not ready: the Git poller has stopped\n")
        return web.Response(status=503, text=f"not ready: {hub.state.git_error or 'first fetch pending'}\n")

    @routes.get("/metrics")
    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=hub.metrics.render(), content_type="text/plain", charset="utf-8")

    async def release_long_polls(_app: web.Application) -> None:
        hub.local_changes.bump()  # peers waiting on /api/v1/shard get their answer, so shutdown never waits

    app.on_shutdown.append(release_long_polls)
    app.add_routes(routes)
    add_dashboard(app, hub)
    return app
