"""One cluster's API as fleet uses it: raw JSON requests over kubernetes_asyncio's transport (its
connection pool and authentication, not its generic call path), with a limit on requests in flight, a
timeout per request, and failures translated into fleet's error types.

Typed models are skipped on purpose: fleet handles arbitrary kinds (custom resources included) as plain
dicts, and server-side apply wants the exact JSON it sends.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from kubernetes_asyncio import client

from fleet.errors import LeaseLost, PermanentClusterError, TemporaryClusterError

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"  # JSON is valid YAML: the body is sent as JSON
FIELD_MANAGER = "fleet"


@dataclass(frozen=True)
class ApiLimits:
    in_flight: int = 8  # requests at once per cluster
    timeout: float = 20.0  # seconds per request


Fence = Callable[[], bool]  # whether this process may still write to the cluster (it holds its Lease)


class ApiError(Exception):
    """The apiserver answered with an error status for one request (the object is at fault, not the
    cluster): carries the HTTP status, the Status reason and the server's message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")


def _status_error(status: int, body: bytes) -> ApiError:
    reason, message = "", body.decode(errors="replace")[:500]
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            reason = str(data.get("reason") or "")
            message = str(data.get("message") or message)
    except ValueError:
        pass
    return ApiError(status, reason or {404: "NotFound", 409: "Conflict"}.get(status, "Error"), message)


@dataclass(frozen=True)
class _Transport:
    """What every request of a client shares, read from it once (at the first request: fleet sets the
    proxy right after creating the client): its session, host, proxy and TLS server name."""

    session: aiohttp.ClientSession
    host: str
    extra: dict[str, Any]

    @classmethod
    def of(cls, api: client.ApiClient) -> _Transport:
        rest = api.rest_client
        extra: dict[str, Any] = {}
        if rest.proxy:
            extra["proxy"] = rest.proxy
        if rest.proxy_headers:
            extra["proxy_headers"] = rest.proxy_headers
        if rest.server_hostname:
            extra["server_hostname"] = rest.server_hostname
        return cls(rest.pool_manager, str(api.configuration.host), extra)


class ClusterApi:
    def __init__(
        self,
        cluster: str,
        api: client.ApiClient,
        limits: ApiLimits | None = None,
        *,
        fence: Fence | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.api = api
        self.limits = limits or ApiLimits()
        self.fence = fence
        if user_agent:
            api.user_agent = user_agent  # names the writer in the apiserver's audit log
        self._slots = asyncio.Semaphore(self.limits.in_flight)
        self.writes = 0  # mutating requests actually sent (dry runs excluded): the "zero writes" check
        self.requests = 0  # every request, reads and dry runs included
        self._base_headers: dict[str, dict[str, str]] = {}
        self._transport: _Transport | None = None

    async def close(self) -> None:
        await self.api.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """Send one request; the decoded JSON body on 2xx. Raises ApiError on an error status from the
        server, TemporaryClusterError when the cluster cannot be reached or is overloaded."""
        query_list = list(query.items()) if query else []
        write = method != "GET" and (query is None or query.get("dryRun") != "All")
        self.requests += 1
        async with self._slots:
            # Checked after waiting for a slot, right before sending: a replica whose Lease ran out while
            # it waited (or while it was paused) must not write.
            if write and self.fence is not None and not self.fence():
                raise LeaseLost(self.cluster, f"{method} {path} not sent: this hub no longer holds the cluster's Lease")
            if write:
                self.writes += 1
            headers = self._headers(content_type)
            try:
                if "BearerToken" in self.api.configuration.api_key:  # a token (and its refresh hooks)
                    await self.api.update_params_for_auth(headers, query_list, ["BearerToken"])
                response = await self._send(method, path, query_list, headers, body, timeout)
                try:
                    status, data = response.status, await response.read()
                finally:
                    response.release()
            except TimeoutError:
                raise TemporaryClusterError(
                    self.cluster, f"{method} {path}: no answer within {timeout or self.limits.timeout:.0f}s"
                ) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise TemporaryClusterError(self.cluster, f"{method} {path}: {_transport_reason(exc)}") from None
        if 200 <= status < 300:
            return json.loads(data) if data else None
        if status in (429, 500, 502, 503, 504):
            raise TemporaryClusterError(self.cluster, f"{method} {path}: {_status_error(status, data)}")
        if status == 401:
            raise PermanentClusterError(self.cluster, "401 Unauthorized: the kubeconfig's credentials were refused")
        raise _status_error(status, data)

    def _headers(self, content_type: str) -> dict[str, str]:
        """A fresh copy of the headers of every request with this body type (the client's default headers
        and cookie are read once: fleet sets them only when it creates the client)."""
        base = self._base_headers.get(content_type)
        if base is None:
            api = self.api
            base = {**api.default_headers, "Content-Type": content_type, "Accept": "application/json"}
            if api.cookie:
                base["Cookie"] = api.cookie
            self._base_headers[content_type] = base
        return dict(base)

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
        timeout: float | None,
    ) -> Awaitable[aiohttp.ClientResponse]:
        """One request on kubernetes_asyncio's connection pool, with its authentication (token refresh
        hooks included, by ``request``), proxy and TLS server name, but without its generic call path:
        that walks every body recursively to "sanitize" it and encodes parameters one by one, which cost
        about a quarter of fleet's client CPU per applied object (bench/sync.py --profile). Not a
        coroutine itself: each coroutine layer between fleet and aiohttp is resumed on every wake-up."""
        if self._transport is None:
            self._transport = _Transport.of(self.api)
        transport = self._transport
        url = f"{transport.host}{path}"
        if query:
            url += "?" + _query_string(tuple(query))
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        timeout_ = _client_timeout(timeout or self.limits.timeout)
        return transport.session.request(method, url, data=data, headers=headers, timeout=timeout_, **transport.extra)

    async def get(self, path: str, **query: str) -> Any:
        return await self.request("GET", path, query=query)


async def server_version(api: ClusterApi) -> str:
    """The cluster's gitVersion (v1.34.4), or "" when it cannot be read: for messages only."""
    try:
        info = await api.get("/version")
    except (ApiError, TemporaryClusterError, PermanentClusterError):
        return ""
    return str(info.get("gitVersion") or "") if isinstance(info, dict) else ""


@functools.lru_cache(maxsize=64)
def _client_timeout(total: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=total)


@functools.lru_cache(maxsize=512)
def _query_string(query: tuple[tuple[str, str], ...]) -> str:
    """Encoded once per distinct query: nearly every request repeats one of a handful (fieldManager and
    force, dryRun), and urlencode quotes character by character (a tenth of the client's CPU per apply)."""
    return urlencode(query)


def _transport_reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
    text = str(exc).split("\n", 1)[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def stream_lines(api: ClusterApi, path: str, query: Mapping[str, str]) -> AsyncIterator[bytes]:
    """The lines of a streaming GET (a watch); no timeout on the stream itself, the server ends it."""
    response = await api.api.call_api(
        path,
        "GET",
        query_params=list(query.items()),
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=aiohttp.ClientTimeout(total=None, sock_connect=api.limits.timeout),
    )
    try:
        if response.status != 200:
            raise _status_error(response.status, await response.read())
        async for line in response.content:
            if line.strip():
                yield line
    finally:
        response.release()
