"""Rendering in worker processes with a time and a memory bound.

Templates and patches come from Git, that is from anyone who can open a pull request. The jinja2 sandbox
keeps them away from the hub's files and Python internals, but no in-process check can bound every way a
template can spend CPU (nested loops, exponential macros) or memory (``"%999999999s" % x``, ``center``,
``join`` of repeated lists, huge integers, a JSON patch copying a subtree into itself). So the renderer
runs in a separate process:

- **memory**: each worker runs under ``RLIMIT_AS`` (``renderMemoryMB`` in the hub config); an allocation
  past it fails inside the worker, which reports it, or kills the worker, which the parent reports.
- **time**: the parent waits ``renderTimeout`` seconds for a cluster's render, then kills the worker and
  starts another one; the render fails with a clear error, the hub keeps going.
- **no code from the worker**: results come back as JSON (never pickle), size-bounded, so even a worker
  that the sandbox failed to contain cannot make the parent run anything. The JSON encoding is also what
  turns YAML's extra types into the JSON Kubernetes takes (``!!binary`` -> base64, timestamps -> ISO text)
  and refuses what has no JSON form (NaN, sets, cycles), naming the object.

Workers are fresh interpreters (never forks of the hub, its threads or its sockets), kept between
renders; each caches one renderer per snapshot, so templates still compile once per revision. The pool is
shared by every caller in the process and is safe to use from threads.

Longer than fleet's ~300-line guide on purpose: the parent's and the worker's sides of one wire protocol
(requests, size-bounded JSON results, kill and replace) stay in one file so that they change together.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime
import json
import os
import queue
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from fleet.errors import FleetError, InputError, RenderError, SourceError
from fleet.model.cluster import Cluster
from fleet.model.objects import ObjectKey
from fleet.model.vocabulary import SOURCE_ANNOTATION
from fleet.render.engine import Renderer
from fleet.render.tools import TOOL_MEMORY_MB, Tools
from fleet.repo.source import Snapshot
from fleet.runtime import tune_garbage_collector

DEFAULT_TIMEOUT = 10.0  # seconds per cluster
DEFAULT_MEMORY_MB = 1024  # address space of one worker
MAX_RESULT_BYTES = 64 * 1024 * 1024  # one cluster's rendered objects, as JSON
SNAPSHOTS_PER_WORKER = 4
NEED_BUNDLE = b'{"need":"bundle"}'


@dataclass(frozen=True)
class RenderLimits:
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    workers: int = field(default_factory=lambda: max(1, min(2, os.cpu_count() or 1)))


@dataclass(frozen=True)
class Bundle:
    """What a worker needs to render: the snapshot and the base snapshots its release pins name (read
    from Git by the parent: workers never touch Git). ``token`` identifies it in the workers' caches."""

    snapshot: Snapshot
    pinned: Mapping[str, Snapshot | str]  # a revision -> its snapshot, or why it could not be read
    tools: Tools = field(default_factory=Tools)  # Helm and Kustomize for sources.yaml
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class RenderResult:
    revision: str
    base_revision: str
    objects: dict[ObjectKey, dict[str, Any]]
    release_values: dict[str, Any]
    notes: tuple[str, ...] = ()


# ---- the worker process ----------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()  # what Kubernetes' YAML reader makes of !!binary
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"a {type(value).__name__} value has no JSON form")


def _encode_objects(objects: Mapping[ObjectKey, dict[str, Any]]) -> str:
    try:
        return json.dumps(
            [[[key.group, key.kind, key.namespace, key.name], obj] for key, obj in objects.items()],
            allow_nan=False,
            default=_json_default,
            separators=(",", ":"),
        )
    except (TypeError, ValueError, RecursionError):
        pass
    for key, obj in objects.items():  # the slow path, only to name the object at fault
        source = str(obj["metadata"]["annotations"].get(SOURCE_ANNOTATION) or "") or None
        try:
            json.dumps(obj, allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise RenderError(f"{key}: {exc}", path=source) from None
        except RecursionError:
            raise RenderError(f"{key}: nested too deeply", path=source) from None
    raise RenderError("rendered objects have no JSON form")


def _error_reply(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, InputError):
        return {
            "error": type(exc).__name__,
            "detail": exc.detail,
            "path": exc.path,
            "line": exc.line,
            "field": exc.field,
        }
    if isinstance(exc, FleetError):
        return {"error": "RenderError", "detail": str(exc)}
    if isinstance(exc, MemoryError):
        return {"error": "RenderError", "detail": "rendering needed more memory than the render limit allows"}
    if isinstance(exc, RecursionError):
        return {"error": "RenderError", "detail": "rendering nested too deeply"}
    return {"error": "RenderError", "detail": f"rendering failed: {type(exc).__name__}: {exc}"[:2000]}


def _render_in_worker(renderer: Renderer, cluster: Cluster) -> bytes:
    rendered = renderer.render(cluster)
    objects = _encode_objects(rendered.objects)
    release = json.dumps(rendered.release_values, allow_nan=False, default=_json_default)
    head = json.dumps({"revision": rendered.revision, "base": rendered.base_revision, "notes": list(rendered.notes)})
    return f'{{"ok":{head},"release":{release},"objects":{objects}}}'.encode()


def _worker_main(conn: Connection, memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    # Hard limit at the tools' own: a Helm or Kustomize run (a Go program) needs more address space than
    # a render, and gets its own limit in its own process; the worker itself stays within ``memory_mb``.
    resource.setrlimit(resource.RLIMIT_AS, (limit, max(limit, TOOL_MEMORY_MB * 1024 * 1024)))
    renderers: OrderedDict[str, Renderer] = OrderedDict()
    while True:
        try:
            token, cluster, bundle = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if bundle is not None:
            pinned = dict(bundle.pinned)

            def load(revision: str, pinned: dict[str, Snapshot | str] = pinned) -> Snapshot:
                found = pinned.get(revision)
                if isinstance(found, Snapshot):
                    return found
                raise SourceError(found or f"revision {revision!r} was not read for this render")

            renderers[token] = Renderer(bundle.snapshot, load_revision=load, tools=bundle.tools)
            while len(renderers) > SNAPSHOTS_PER_WORKER:
                renderers.popitem(last=False)
        renderer = renderers.get(token)
        if renderer is None:
            conn.send_bytes(NEED_BUNDLE)
            continue
        renderers.move_to_end(token)
        try:
            reply = _render_in_worker(renderer, cluster)
            if len(reply) > MAX_RESULT_BYTES:
                reply = json.dumps(
                    {"error": "RenderError", "detail": f"rendered objects are over {MAX_RESULT_BYTES} bytes"}
                ).encode()
        except Exception as exc:  # MemoryError and RecursionError included: everything is reported
            reply = json.dumps(_error_reply(exc)).encode()
        conn.send_bytes(reply)


def _die_with_parent(parent: int) -> None:
    """A worker busy in an endless template must not outlive a parent that was killed (SIGKILL gives the
    parent no chance to stop it, and the worker only reads its socket between renders): a watchdog thread
    ends the worker once it has been handed to another parent. (PR_SET_PDEATHSIG would fire when the
    parent's *thread* that started the worker ends, which a thread pool does at will.)"""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent watchdog", daemon=True).start()


def main() -> None:
    """Entry point of a worker process: ``python -m fleet.render.worker FD MEMORY_MB PARENT_PID``."""
    # Ctrl-C goes to the whole process group: the parent decides; the worker ends when its pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, memory_mb = int(sys.argv[1]), int(sys.argv[2])
    parent = int(sys.argv[3]) if len(sys.argv) > 3 else os.getppid()
    _die_with_parent(parent)
    tune_garbage_collector()
    _worker_main(Connection(fd), memory_mb)


# ---- the parent side -------------------------------------------------------------------------------


class _Worker:
    """One worker process: a fresh interpreter (never a fork of the hub, its threads or its sockets)
    talking over a socket pair."""

    def __init__(self, memory_mb: int) -> None:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fleet.render.worker", str(theirs.fileno()), str(memory_mb), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
            self.conn = Connection(ours.detach())
        self.bundles: set[str] = set()

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.conn.close()

    def ask(self, token: str, cluster: Cluster, bundle: Bundle | None, timeout: float) -> bytes:
        self.conn.send((token, cluster, bundle))
        if not self.conn.poll(timeout):
            raise TimeoutError
        return self.conn.recv_bytes(MAX_RESULT_BYTES + 1024)


class RenderPool:
    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(limits.workers):
            self._idle.put(None)  # a slot; the worker starts on first use
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()

    def render(self, bundle: Bundle, cluster: Cluster) -> RenderResult:
        worker = self._idle.get()
        try:
            if worker is not None and not worker.alive():
                self._discard(worker)  # died between renders (killed from outside): reaped, replaced
                worker = None
            if worker is None:
                worker = self._start()
            raw = self._ask(worker, bundle, cluster)
        except BaseException:
            if worker is not None:
                self._discard(worker)
            self._idle.put(None)
            raise
        # The worker goes back before the answer is decoded: another thread's render runs meanwhile.
        self._idle.put(worker)
        try:
            reply = json.loads(raw)
        except ValueError:
            raise RenderError("the render worker's answer is not JSON", cluster=cluster.name) from None
        if not isinstance(reply, dict):
            raise RenderError("the render worker's answer is not a JSON object", cluster=cluster.name)
        return _result(reply, cluster)

    def _ask(self, worker: _Worker, bundle: Bundle, cluster: Cluster) -> bytes:
        seconds = self.limits.timeout
        try:
            reply = worker.ask(bundle.token, cluster, bundle if bundle.token not in worker.bundles else None, seconds)
            if reply == NEED_BUNDLE:  # the worker dropped it from its cache
                reply = worker.ask(bundle.token, cluster, bundle, seconds)
        except TimeoutError:
            raise RenderError(
                f"rendering took longer than {seconds:g}s and was stopped (renderTimeout in the hub config)",
                cluster=cluster.name,
            ) from None
        except (EOFError, OSError):
            raise RenderError(
                f"rendering was stopped: it needed more than the {self.limits.memory_mb} MiB render memory limit "
                "(renderMemoryMB in the hub config) or its worker died",
                cluster=cluster.name,
            ) from None
        worker.bundles.add(bundle.token)
        if len(worker.bundles) > SNAPSHOTS_PER_WORKER:
            worker.bundles = {bundle.token}  # unsure what it still holds: it asks again when needed
        return reply

    def _start(self) -> _Worker:
        worker = _Worker(self.limits.memory_mb)
        with self._lock:
            self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.kill()


def _result(reply: dict[str, Any], cluster: Cluster) -> RenderResult:
    if "error" in reply:
        kind = RenderError if reply["error"] != "InputError" else InputError
        raise kind(
            str(reply.get("detail")),
            path=reply.get("path"),
            line=reply.get("line"),
            field=reply.get("field"),
            cluster=cluster.name,
        )
    head = reply["ok"]
    objects = {ObjectKey(*key): obj for key, obj in reply["objects"]}
    return RenderResult(head["revision"], head["base"], objects, reply["release"], tuple(head.get("notes") or ()))


_pools: dict[RenderLimits, RenderPool] = {}
_pools_lock = threading.Lock()


def shared_pool(limits: RenderLimits) -> RenderPool:
    """One pool per set of limits per process (the CLI and the hub each use one)."""
    with _pools_lock:
        pool = _pools.get(limits)
        if pool is None:
            pool = _pools[limits] = RenderPool(limits)
        return pool


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools.values()):
        pool.close()


if __name__ == "__main__":
    main()
