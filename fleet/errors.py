"""fleet's error tree.

Every error a user can cause or meet is one of these; the CLI prints ``str(error)`` and exits with
``error.exit_code``, never a traceback.

    FleetError                     exit 1, base of everything fleet raises on purpose
    ├── UsageError                 exit 2, bad CLI arguments or options
    ├── InputError                 exit 2, bad user input: names the file, line or field and the cluster
    │   ├── RegistryError          clusters/ entries, kubeconfigs, selectors
    │   └── RenderError            overlays/: YAML, templates, values, patches, duplicate objects
    ├── SourceError                exit 1, Git: unknown revision, unreadable repository
    ├── LabError                   exit 1, the local lab: build, start, stop
    │   └── LabBuildError          building the control-plane binaries (go missing, build failed)
    └── ClusterError               exit 1, a cluster answered badly or not at all; carries the cluster
        ├── TemporaryClusterError  retry after ``retry_after`` seconds (timeouts, 5xx, connection refused)
        ├── PermanentClusterError  retrying will not help (403, invalid object)
        └── LeaseLost              a hub replica no longer holds the cluster's Lease: it must not write
"""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error fleet raises on purpose."""

    exit_code = 1


class UsageError(FleetError):
    exit_code = 2


class InputError(FleetError):
    """Bad user input. The message names where: file, line, field, cluster."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        cluster: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.cluster = cluster
        self.detail = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "")
        parts = [p for p in (where, f"field {self.field!r}" if self.field else "") if p]
        prefix = ", ".join(parts)
        if self.cluster:
            prefix = f"{prefix} (cluster {self.cluster})" if prefix else f"cluster {self.cluster}"
        return f"{prefix}: {self.detail}" if prefix else self.detail


class RegistryError(InputError):
    pass


class RenderError(InputError):
    pass


class SourceError(FleetError):
    pass


class LabError(FleetError):
    pass


class LabBuildError(LabError):
    pass


class ClusterError(FleetError):
    def __init__(self, cluster: str, message: str) -> None:
        self.cluster = cluster
        self.detail = message
        super().__init__(f"cluster {cluster}: {message}")


class TemporaryClusterError(ClusterError):
    def __init__(self, cluster: str, message: str, *, retry_after: float = 5.0) -> None:
        super().__init__(cluster, message)
        self.retry_after = retry_after


class PermanentClusterError(ClusterError):
    pass


class LeaseLost(ClusterError):
    """A write refused before it was sent: this hub replica's hold on the cluster's Lease ran out."""
