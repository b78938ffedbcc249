"""Health of live objects: pure functions in a table keyed by (group, kind), one small function per kind,
and a generic fallback on ``status.conditions`` and ``observedGeneration``.

Codes are ordered best to worst, so a cluster's health is the worst of its objects.
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

    def to_dict(self) -> dict[str, str]:
        return {"status": self.code.label, "message": self.message}


Obj = Mapping[str, Any]
HEALTHY = Health(Code.HEALTHY)


def _status(obj: Obj) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _conditions(obj: Obj) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in _status(obj).get("conditions") or [] if isinstance(c, Mapping)}


def _generation_pending(obj: Obj) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = _status(obj).get("observedGeneration")
    return generation is not None and observed is not None and observed < generation


def _spec(obj: Obj) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def deployment(obj: Obj) -> Health:
    if _spec(obj).get("paused"):
        return Health(Code.PROGRESSING, "rollout paused")
    if _generation_pending(obj):
        return Health(Code.PROGRESSING, "waiting for the controller to observe the new generation")
    status, conditions = _status(obj), _conditions(obj)
    progressing = conditions.get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(Code.DEGRADED, f"ProgressDeadlineExceeded: {progressing.get('message', '')}".rstrip(": "))
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
    if _generation_pending(obj):
        return Health(Code.PROGRESSING, "waiting for the controller to observe the new generation")
    status = _status(obj)
    want = _spec(obj).get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < want:
        return Health(Code.PROGRESSING, f"{ready}/{want} replicas ready")
    if status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
        return Health(Code.PROGRESSING, f"{status.get('updatedReplicas', 0)}/{want} replicas updated")
    return Health(Code.HEALTHY, f"{ready}/{want} replicas ready")


def daemonset(obj: Obj) -> Health:
    if _generation_pending(obj):
        return Health(Code.PROGRESSING, "waiting for the controller to observe the new generation")
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
    if _generation_pending(obj):
        return Health(Code.PROGRESSING, "waiting for the controller to observe the new generation")
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
        return Health(Code.DEGRADED, status.get("message") or status.get("reason") or "pod failed")
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerError"):
            return Health(Code.DEGRADED, f"{container.get('name')}: {waiting['reason']}")
    scheduled = _conditions(obj).get("PodScheduled", {})
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return Health(Code.DEGRADED, f"Unschedulable: {scheduled.get('message', '')}".rstrip(": "))
    if phase == "Running" and _conditions(obj).get("Ready", {}).get("status") == "True":
        return Health(Code.HEALTHY, "running and ready")
    return Health(Code.PROGRESSING, f"{phase}")


def job(obj: Obj) -> Health:
    conditions = _conditions(obj)
    failed = conditions.get("Failed", {})
    if failed.get("status") == "True":
        return Health(Code.DEGRADED, f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".rstrip(": "))
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
        return Health(Code.DEGRADED, "volume lost")
    return Health(Code.PROGRESSING, f"{phase}: waiting for a volume")


def pdb(obj: Obj) -> Health:
    if _generation_pending(obj):
        return Health(Code.PROGRESSING, "waiting for the controller to observe the new generation")
    allowed = _conditions(obj).get("DisruptionAllowed", {})
    status = _status(obj)
    if allowed.get("status") == "False" and allowed.get("reason") == "InsufficientPods":
        healthy, want = status.get("currentHealthy", 0), status.get("desiredHealthy", 0)
        return Health(Code.DEGRADED, f"InsufficientPods: {healthy} healthy, {want} needed")
    return HEALTHY


def crd(obj: Obj) -> Health:
    conditions = _conditions(obj)
    if conditions.get("NamesAccepted", {}).get("status") == "False":
        return Health(Code.DEGRADED, f"NamesAccepted=False: {conditions['NamesAccepted'].get('message', '')}")
    if conditions.get("Established", {}).get("status") == "True":
        return HEALTHY
    return Health(Code.PROGRESSING, "waiting to be Established")


def namespace(obj: Obj) -> Health:
    if _status(obj).get("phase") == "Terminating":
        return Health(Code.PROGRESSING, "terminating")
    return HEALTHY


def generic(obj: Obj) -> Health:
    """Kinds without a rule: conditions Ready or Available when present, else healthy once it exists."""
    if _generation_pending(obj):
        return Health(Code.PROGRESSING, "waiting for the controller to observe the new generation")
    conditions = _conditions(obj)
    for kind in ("Ready", "Available"):
        condition = conditions.get(kind)
        if condition is None:
            continue
        if condition.get("status") == "True":
            return HEALTHY
        message = f"{kind}={condition.get('status')}: {condition.get('reason', '')} {condition.get('message', '')}"
        if condition.get("status") == "False":
            return Health(Code.DEGRADED, message.strip())
        return Health(Code.PROGRESSING, message.strip())
    return HEALTHY


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
