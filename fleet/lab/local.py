"""The local backend: real control planes (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) plus kwok-simulated nodes, as plain processes on 127.0.0.1.

Everything a lab owns lives under its directory; two labs in different directories share nothing.

Longer than fleet's ~300-line guide on purpose: one class owns the lab's processes and its lock, and its
lifecycle verbs (up, down, pause, resume, kill, restart) read the same state and must stay consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from fleet.errors import LabError
from fleet.lab import components as comp
from fleet.lab import pki
from fleet.lab.components import CONTROL_PLANE, LabPaths, process_name
from fleet.lab.credentials import node_manifest, write_credentials
from fleet.lab.probe import ApiProbe, ssl_context
from fleet.lab.procs import ProcessSpec, Supervisor
from fleet.lab.state import ClusterState, LabState
from fleet.lab.topology import ClusterSpec
from fleet.lab.versions import KUBERNETES_VERSION, kubernetes_bin_dir

START_TIMEOUT = 180.0  # contended CI machines have needed 30 s+ for one apiserver
START_ATTEMPTS = 3  # an apiserver that exits while starting is started again, twice at most
STARTING_AT_ONCE = 16  # apiservers starting together: 50 at once overloaded one etcd on 2 cores
LOG_TAIL_LINES = 25


@dataclass(frozen=True)
class ClusterEndpoint:
    name: str
    server: str
    kubeconfig: Path
    context: str
    kubernetes_version: str = KUBERNETES_VERSION


@dataclass(frozen=True)
class ComponentStatus:
    process: str
    state: str  # running | paused | stopped
    pid: int | None
    rss_bytes: int | None


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        return None
    return None


class LocalLab:
    def __init__(self, root: Path, *, bin_dir: Path | None = None, audit: bool = False) -> None:
        self.paths = LabPaths(root.expanduser().resolve())
        self._bin_dir = bin_dir
        self.supervisor = Supervisor(self.paths.run)
        if audit:  # kept in the lab's directory, so restarts of its apiservers audit too
            self.paths.root.mkdir(parents=True, exist_ok=True)
            self.paths.audit_policy.write_text(comp.AUDIT_POLICY)

    # ---- bookkeeping -------------------------------------------------------------------------------

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            from fleet.lab.build import require_binaries

            self._bin_dir = require_binaries()
        return self._bin_dir

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One `lab up`/`lab down` at a time per lab directory."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        with self.paths.lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LabError(f"another `fleet lab` command is working on {self.paths.root}") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def state(self) -> LabState | None:
        return LabState.load(self.paths.state)

    def _require_state(self) -> LabState:
        state = self.state()
        if state is None:
            raise LabError(f"no lab in {self.paths.root}; start one with `fleet lab up`")
        return state

    def _cluster(self, name: str) -> ClusterState:
        state = self._require_state()
        if name not in state.clusters:
            known = ", ".join(sorted(state.clusters)) or "none"
            raise LabError(f"no cluster {name!r} in the lab at {self.paths.root} (clusters: {known})")
        return state.clusters[name]

    def endpoints(self) -> list[ClusterEndpoint]:
        state = self.state()
        if state is None:
            return []
        return [
            ClusterEndpoint(c.name, c.server, self.paths.kubeconfig(c.name), c.name, c.kubernetes_version)
            for c in state.clusters.values()
        ]

    def _process_names(self, state: LabState) -> list[str]:
        names = ["etcd"]
        for cluster in state.clusters.values():
            components = CONTROL_PLANE if cluster.nodes else CONTROL_PLANE[:1]
            names += [process_name(cluster.name, c) for c in components]
        return names

    def status(self) -> list[ComponentStatus]:
        state = self.state()
        if state is None:
            return []
        rows = []
        for name in self._process_names(state):
            pid = self.supervisor.pid(name)
            if pid is None:
                rows.append(ComponentStatus(name, "stopped", None, None))
            else:
                paused = self.supervisor.is_paused(name)
                rows.append(ComponentStatus(name, "paused" if paused else "running", pid, _rss(pid)))
        return rows

    # ---- files -------------------------------------------------------------------------------------

    # ---- processes ---------------------------------------------------------------------------------

    def _spec(self, state: LabState, name: str) -> ProcessSpec:
        bins = self.bin_dir
        if name == "etcd":
            return comp.etcd_spec(self.paths, bins, client_port=state.etcd_client_port, peer_port=state.etcd_peer_port)
        cluster, component = name.split(".", 1)
        if component == "kwok":
            return comp.kwok_spec(self.paths, bins, cluster=cluster)
        # The control plane runs the cluster's own Kubernetes version.
        bins = self._control_plane_bins(state.clusters[cluster].kubernetes_version)
        if component == "kube-apiserver":
            return comp.apiserver_spec(
                self.paths,
                bins,
                cluster=cluster,
                port=state.clusters[cluster].port,
                etcd_port=state.etcd_client_port,
            )
        if component == "kube-controller-manager":
            return comp.controller_manager_spec(self.paths, bins, cluster=cluster)
        return comp.scheduler_spec(self.paths, bins, cluster=cluster)

    def _control_plane_bins(self, version: str) -> Path:
        if self._bin_dir is not None and version == KUBERNETES_VERSION:
            return self._bin_dir
        from fleet.lab.build import require_binaries

        require_binaries((version,))
        return kubernetes_bin_dir(version)

    def _orphans(self) -> list[int]:
        """Processes running from this lab's directory that no pid file accounts for (lost pid files)."""
        marker = str(self.paths.root) + "/"
        known = {self.supervisor.pid(n) for n in self.supervisor.known()}
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) in known:
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                argv
                and argv[0]
                and Path(argv[0].decode(errors="replace")).name in _BINARY_NAMES
                and any(marker in a.decode(errors="replace") for a in argv[1:])
            ):
                found.append(int(proc.name))
        return found

    def _kill_orphans(self) -> None:
        for pid in self._orphans():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self._orphans() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _ensure_running(self, state: LabState, name: str) -> bool:
        """Start ``name`` unless it runs; True when it was started now."""
        if self.supervisor.is_running(name):
            return False
        self.supervisor.start(self._spec(state, name))
        return True

    def _failure(self, name: str, what: str) -> LabError:
        return LabError(f"{name} {what}; last lines of {self.paths.log(name)}:\n{log_tail(self.paths.log(name))}")

    async def _wait(
        self, name: str, check: Callable[[], asyncio.Future[bool] | object], *, timeout: float, what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            if not self.supervisor.is_running(name):
                raise self._failure(name, "exited while starting")
            try:
                result = check()
                if asyncio.iscoroutine(result):
                    result = await result
                if result:
                    return
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                last_error = f" (last probe: {type(exc).__name__}: {exc})"
            if time.monotonic() > deadline:
                raise self._failure(name, f"not {what} after {timeout:.0f}s{last_error}")
            await asyncio.sleep(0.25)

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def up(
        self, specs: list[ClusterSpec], *, timeout: float = START_TIMEOUT, log: Callable[[str], None] = print
    ) -> list[ClusterEndpoint]:
        with self._locked():
            self._kill_orphans()
            state = self.state() or LabState.new()
            for spec in specs:
                state.add(spec)
            state.save(self.paths.state)
            write_credentials(self.paths, state)
            ca = pki.CertPair(self.paths.pki / "ca.crt", self.paths.pki / "ca.key")
            admin = pki.CertPair(self.paths.pki / "admin.crt", self.paths.pki / "admin.key")
            context = ssl_context(ca, admin)
            async with aiohttp.ClientSession() as session:
                if self._ensure_running(state, "etcd"):
                    log("started etcd")
                etcd_url = f"http://127.0.0.1:{state.etcd_client_port}/health"

                async def etcd_ready() -> bool:
                    async with session.get(etcd_url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                        # etcd answers JSON with Content-Type text/plain
                        return r.status == 200 and json.loads(await r.text()).get("health") == "true"

                await self._wait("etcd", etcd_ready, timeout=timeout, what="healthy")
                starting = asyncio.Semaphore(STARTING_AT_ONCE)
                await asyncio.gather(
                    *(
                        self._cluster_up(
                            state,
                            c,
                            ApiProbe(c.server, context, session),
                            starting=starting,
                            timeout=timeout,
                            log=log,
                        )
                        for c in state.clusters.values()
                    )
                )
            return self.endpoints()

    async def _cluster_up(
        self,
        state: LabState,
        cluster: ClusterState,
        probe: ApiProbe,
        *,
        starting: asyncio.Semaphore,
        timeout: float,
        log: Callable[[str], None],
    ) -> None:
        apiserver = process_name(cluster.name, "kube-apiserver")

        async def api_ready() -> bool:
            status, text = await probe.text("/readyz")
            return status == 200 and text.strip() == "ok"

        async with starting:
            for attempt in range(1, START_ATTEMPTS + 1):
                if self._ensure_running(state, apiserver):
                    log(f"started {apiserver} on {cluster.server}")
                try:
                    await self._wait(apiserver, api_ready, timeout=timeout, what="ready")
                    break
                except LabError:
                    # An apiserver whose start-up hook timed out on a busy etcd exits (as kubelet would,
                    # the lab starts it again); one that keeps failing is reported with its log.
                    if self.supervisor.is_running(apiserver) or attempt == START_ATTEMPTS:
                        raise
                    log(f"{apiserver} exited while starting; starting it again ({attempt}/{START_ATTEMPTS - 1})")
        if not cluster.nodes:
            # An apiserver-only cluster (benchmarks): no controllers, no scheduler, no nodes.
            return
        for node in cluster.nodes:
            status, body = await probe.post("/api/v1/nodes", node_manifest(cluster.name, node.name, node.labels))
            if status not in (201, 409):
                raise LabError(f"{cluster.name}: creating node {node.name} failed ({status}): {body}")
        for component in CONTROL_PLANE[1:]:
            name = process_name(cluster.name, component)
            if self._ensure_running(state, name):
                log(f"started {name}")

        async def default_namespace() -> bool:
            status, _ = await probe.get("/api/v1/namespaces/default")
            return status == 200

        async def nodes_ready() -> bool:
            status, body = await probe.get("/api/v1/nodes")
            if status != 200:
                return False
            ready = {
                item["metadata"]["name"]
                for item in body.get("items", [])
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in item.get("status", {}).get("conditions", [])
                )
            }
            return {n.name for n in cluster.nodes} <= ready

        await self._wait(apiserver, default_namespace, timeout=timeout, what="serving the default namespace")
        await self._wait(process_name(cluster.name, "kwok"), nodes_ready, timeout=timeout, what="reporting nodes Ready")
        for component in CONTROL_PLANE[1:]:
            name = process_name(cluster.name, component)
            if not self.supervisor.is_running(name):
                raise self._failure(name, "exited while starting")

    def down(self, *, timeout: float = 10.0) -> None:
        """Stop every process of the lab and remove its directory (state, data, credentials, logs)."""
        with self._locked():
            state = self.state()
            names = self._process_names(state) if state else []
            # Components before apiservers before etcd, so nothing logs a storm of connection errors.
            for group in (
                [n for n in names if n.endswith((".kwok", ".kube-scheduler", ".kube-controller-manager"))],
                [n for n in names if n.endswith(".kube-apiserver")],
                ["etcd"],
                self.supervisor.known(),
            ):
                for name in group:
                    self.supervisor.stop(name, timeout=timeout)
            self._kill_orphans()
        shutil.rmtree(self.paths.root, ignore_errors=True)

    # ---- fault controls (tests and demos) ----------------------------------------------------------

    def pause_apiserver(self, cluster: str) -> None:
        """SIGSTOP: the apiserver keeps its port but answers nothing, like a hung server."""
        self._cluster(cluster)
        if not self.supervisor.signal(process_name(cluster, "kube-apiserver"), signal.SIGSTOP):
            raise LabError(f"the apiserver of {cluster} is not running")

    def resume_apiserver(self, cluster: str) -> None:
        self._cluster(cluster)
        self.supervisor.signal(process_name(cluster, "kube-apiserver"), signal.SIGCONT)

    def stop_apiserver(self, cluster: str) -> None:
        self._cluster(cluster)
        self.supervisor.stop(process_name(cluster, "kube-apiserver"))

    def kill(self, process: str) -> None:
        """SIGKILL one process by its lab name (``etcd``, ``dev-1.kube-apiserver``), as a crash would."""
        self.supervisor.kill(process)

    async def start_apiserver(self, cluster: str, *, timeout: float = START_TIMEOUT) -> None:
        """Start a stopped apiserver again on the same port and wait until it is ready."""
        await self.up([ClusterSpec(cluster, tuple(self._cluster(cluster).nodes))], timeout=timeout, log=lambda _m: None)


_BINARY_NAMES = {"etcd", *CONTROL_PLANE}
