"""Health of live objects: pure functions in a table keyed by (group, kind), one small function per kind,
and a generic fallback on ``status.conditions`` and ``observedGeneration``.

Codes are ordered best to worst, so a cluster's health is the worst of its objects. The rules follow
kstatus (sigs.k8s.io/cli-utils): an object whose controller has not yet observed its current generation,
or whose status is not computed yet, is Progressing, never Degraded; Degraded means a failure the object
states (ProgressDeadlineExceeded, a failed Job, a crash-looping container). A Degraded health is
``terminal`` when it cannot recover without a change to the object (a failed Job stays failed):
``fleet sync --wait`` stops waiting early only on those.

Longer than fleet's ~300-line guide on purpose: the table and its per-kind functions are read together,
and splitting them would scatter one rulebook over several files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Code(IntEnum):
    HEALTHY = 0
    PROGRESSING = 1
    MISSING = 2
    DEGRADED = 3
    UNKNOWN = 4

    @property
    def label(self) -> str:
        return self.name.capitalize()


@dataclass(frozen=True)
class Health:
    code: Code
    message: str = ""
    terminal: bool = False  # Degraded until the object is changed: nothing to wait for

    def to_dict(self) -> dict[str, str]:
        return {"status": self.code.label, "message": self.message}


Obj = Mapping[str, Any]
HEALTHY = Health(Code.HEALTHY)


def _status(obj: Obj) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _conditions(obj: Obj) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in _status(obj).get("conditions") or [] if isinstance(c, Mapping)}


def _generation_pending(obj: Obj, *, always_observed: bool = False) -> bool:
    """The controller has not caught up with the object's spec. ``always_observed``: the kind's controller
    always writes ``observedGeneration``, so a status without it has simply not been computed yet."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = _status(obj).get("observedGeneration")
    if observed is None:
        return always_observed
    return generation is not None and observed < generation


PENDING = "waiting for its controller to observe the current generation"


def _spec(obj: Obj) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def deployment(obj: Obj) -> Health:
    if _spec(obj).get("paused"):
        return Health(Code.PROGRESSING, "rollout paused")
    if _generation_pending(obj, always_observed=True):
        return Health(Code.PROGRESSING, PENDING)
    status, conditions = _status(obj), _conditions(obj)
    progressing = conditions.get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        message = f"ProgressDeadlineExceeded: {progressing.get('message', '')}".rstrip(": ")
        return Health(Code.DEGRADED, message, terminal=True)
    want = _spec(obj).get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < want:
        return Health(Code.PROGRESSING, f"{updated}/{want} replicas updated")
    if total > updated:
        return Health(Code.PROGRESSING, f"{total - updated} old replicas pending termination")
    if available < want:
        return Health(Code.PROGRESSING, f"{available}/{want} replicas available")
    return Health(Code.HEALTHY, f"{available}/{want} replicas available")


def statefulset(obj: Obj) -> Health:
    if _generation_pending(obj, always_observed=True):
        return Health(Code.PROGRESSING, PENDING)
    status = _status(obj)
    want = _spec(obj).get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < want:
        return Health(Code.PROGRESSING, f"{ready}/{want} replicas ready")
    if status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
        return Health(Code.PROGRESSING, f"{status.get('updatedReplicas', 0)}/{want} replicas updated")
    return Health(Code.HEALTHY, f"{ready}/{want} replicas ready")


def daemonset(obj: Obj) -> Health:
    if _generation_pending(obj, always_observed=True):
        return Health(Code.PROGRESSING, PENDING)
    status = _status(obj)
    want = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    available = status.get("numberAvailable", 0)
    if updated < want:
        return Health(Code.PROGRESSING, f"{updated}/{want} pods updated")
    if available < want:
        return Health(Code.PROGRESSING, f"{available}/{want} pods available")
    return Health(Code.HEALTHY, f"{available}/{want} pods available")


def replicaset(obj: Obj) -> Health:
    if _generation_pending(obj, always_observed=True):
        return Health(Code.PROGRESSING, PENDING)
    failure = _conditions(obj).get("ReplicaFailure", {})
    if failure.get("status") == "True":
        return Health(Code.DEGRADED, f"ReplicaFailure: {failure.get('message', '')}")
    want = _spec(obj).get("replicas", 1)
    available = _status(obj).get("availableReplicas", 0)
    if available < want:
        return Health(Code.PROGRESSING, f"{available}/{want} replicas available")
    return Health(Code.HEALTHY, f"{available}/{want} replicas available")


def pod(obj: Obj) -> Health:
    status = _status(obj)
    phase = status.get("phase", "Pending")
    if phase == "Succeeded":
        return Health(Code.HEALTHY, "completed")
    if phase == "Failed":
        return Health(Code.DEGRADED, status.get("message") or status.get("reason") or "pod failed", terminal=True)
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerError"):
            return Health(Code.DEGRADED, f"{container.get('name')}: {waiting['reason']}")
    scheduled = _conditions(obj).get("PodScheduled", {})
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        # Capacity may come (an autoscaler adds nodes, other pods end): waiting, not failed.
        return Health(Code.PROGRESSING, f"Unschedulable: {scheduled.get('message', '')}".rstrip(": "))
    if phase == "Running" and _conditions(obj).get("Ready", {}).get("status") == "True":
        return Health(Code.HEALTHY, "running and ready")
    return Health(Code.PROGRESSING, f"{phase}")


def job(obj: Obj) -> Health:
    conditions = _conditions(obj)
    failed = conditions.get("Failed", {})
    if failed.get("status") == "True":
        message = f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".rstrip(": ")
        return Health(Code.DEGRADED, message, terminal=True)
    if conditions.get("Complete", {}).get("status") == "True":
        return Health(Code.HEALTHY, "completed")
    if _spec(obj).get("suspend"):
        return Health(Code.PROGRESSING, "suspended")
    return Health(Code.PROGRESSING, f"{_status(obj).get('active', 0)} active")


def cronjob(obj: Obj) -> Health:
    if _spec(obj).get("suspend"):
        return Health(Code.HEALTHY, "suspended")
    return Health(Code.HEALTHY, f"last scheduled {_status(obj).get('lastScheduleTime', 'never')}")


def service(obj: Obj) -> Health:
    if _spec(obj).get("type") == "LoadBalancer":
        ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
        if not ingress:
            return Health(Code.PROGRESSING, "waiting for a load balancer address")
    return HEALTHY


def ingress(obj: Obj) -> Health:
    if not ((_status(obj).get("loadBalancer") or {}).get("ingress") or []):
        return Health(Code.PROGRESSING, "waiting for an address")
    return HEALTHY


def pvc(obj: Obj) -> Health:
    phase = _status(obj).get("phase", "Pending")
    if phase == "Bound":
        return HEALTHY
    if phase == "Lost":
        return Health(Code.DEGRADED, "volume lost", terminal=True)
    return Health(Code.PROGRESSING, f"{phase}: waiting for a volume")


def pdb(obj: Obj) -> Health:
    """A budget is healthy when its pods are: DisruptionAllowed=False only means no voluntary disruption is
    allowed right now (always so with ``maxUnavailable: 0``, and during any rollout). Too few healthy pods
    is Progressing: the pods' own owners report why; a budget never fails by itself."""
    if _generation_pending(obj, always_observed=True):
        return Health(Code.PROGRESSING, PENDING)
    status = _status(obj)
    expected, healthy, want = (
        status.get("expectedPods", 0),
        status.get("currentHealthy", 0),
        status.get("desiredHealthy", 0),
    )
    if expected == 0:
        return Health(Code.HEALTHY, "selects no pods")
    if healthy < want:
        return Health(Code.PROGRESSING, f"{healthy} healthy pods, {want} needed")
    return Health(Code.HEALTHY, f"{healthy} healthy pods, {want} needed")


def crd(obj: Obj) -> Health:
    conditions = _conditions(obj)
    if conditions.get("NamesAccepted", {}).get("status") == "False":
        message = f"NamesAccepted=False: {conditions['NamesAccepted'].get('message', '')}"
        return Health(Code.DEGRADED, message, terminal=True)
    if conditions.get("Established", {}).get("status") == "True":
        return HEALTHY
    return Health(Code.PROGRESSING, "waiting to be Established")


def namespace(obj: Obj) -> Health:
    if _status(obj).get("phase") == "Terminating":
        return Health(Code.PROGRESSING, "terminating")
    return HEALTHY


def hpa(obj: Obj) -> Health:
    """Healthy once its controller has looked at it: an autoscaler that cannot read metrics (no metrics
    server) still holds its target's replicas, and says so in its conditions."""
    if _generation_pending(obj, always_observed=False) or not _status(obj):
        return Health(Code.PROGRESSING, PENDING)
    able = _conditions(obj).get("AbleToScale", {})
    if able.get("status") == "False":
        return Health(Code.PROGRESSING, f"AbleToScale=False: {able.get('reason', '')}".rstrip(": "))
    return HEALTHY


def generic(obj: Obj) -> Health:
    """Kinds without a rule: conditions Ready or Available when present, else healthy once it exists."""
    if _generation_pending(obj):
        return Health(Code.PROGRESSING, PENDING)
    conditions = _conditions(obj)
    # kstatus' standard conditions first: Stalled is a stated failure, Reconciling is work in progress.
    stalled, reconciling = conditions.get("Stalled", {}), conditions.get("Reconciling", {})
    if stalled.get("status") == "True":
        return Health(Code.DEGRADED, _describe("Stalled", stalled))
    if reconciling.get("status") == "True":
        return Health(Code.PROGRESSING, _describe("Reconciling", reconciling))
    for kind in ("Ready", "Available"):
        condition = conditions.get(kind)
        if condition is None:
            continue
        if condition.get("status") == "True":
            return HEALTHY
        # Not ready yet is not a failure (a certificate being issued, a database starting): Progressing.
        return Health(Code.PROGRESSING, _describe(kind, condition))
    return HEALTHY


def _describe(kind: str, condition: Mapping[str, Any]) -> str:
    return f"{kind}={condition.get('status')}: {condition.get('reason', '')} {condition.get('message', '')}".strip()


RULES: dict[tuple[str, str], Callable[[Obj], Health]] = {
    ("apps", "Deployment"): deployment,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
    ("apps", "ReplicaSet"): replicaset,
    ("", "Pod"): pod,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cronjob,
    ("", "Service"): service,
    ("", "PersistentVolumeClaim"): pvc,
    ("networking.k8s.io", "Ingress"): ingress,
    ("policy", "PodDisruptionBudget"): pdb,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd,
    ("", "Namespace"): namespace,
}


def assess(obj: Obj | None) -> Health:
    """The health of one live object; ``None`` (not found) is Missing."""
    if obj is None:
        return Health(Code.MISSING, "not found in the cluster")
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    rule = RULES.get((group, str(obj.get("kind", ""))), generic)
    try:
        return rule(obj)
    except (TypeError, AttributeError, ValueError) as exc:  # a malformed status is reported, not raised
        return Health(Code.UNKNOWN, f"cannot read status: {exc}")


def worst(healths: Iterable[Health]) -> Health:
    result = HEALTHY
    for health in healths:
        if health.code > result.code:
            result = health
    return result
