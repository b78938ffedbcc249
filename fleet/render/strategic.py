"""Strategic-merge patches of ``overlays/<env>/patches/``, applied by kustomize's own schema-aware merge.

Kubernetes' strategic merge is defined by the OpenAPI schema of each kind (which lists merge on which
key: containers by ``name``, a container's ports by ``containerPort``, a Service's by ``port``, volume
mounts by ``mountPath``; which are replaced: ``args``, ``command``; every list of a kind without a
schema, such as a custom resource). kustomize carries that schema and the merge; fleet hands it the
objects a group of patches targets and takes back what it builds, instead of approximating the rules.

The objects and patches are written as YAML (quoted only where needed: see _documents) into a private
directory with a generated kustomization (``sortOptions: fifo``), and kustomize runs isolated like any
source (tools.py). Outputs are cached by their exact inputs, so clusters of an env whose targeted objects
are equal run kustomize once.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from fleet.errors import RenderError
from fleet.model.objects import ObjectKey
from fleet.render.sources import files_digest, runner_for, tool_key
from fleet.render.tools import Tools, run_tool, workdir
from fleet.yamlio import load_all

_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """PyYAML's safe dumper that also quotes the strings YAML 1.2 (kustomize's reading) would take for
    numbers: kustomize rewrites a plain ``0o17`` or ``1e3`` as 15 or 1000."""


_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(0o[0-7]+|0x[0-9a-fA-F]+|[0-9]+)$"), list("-+0123456789")
)
_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"),
    list("-+.0123456789"),
)


def strategic_merge(
    tools: Tools, targets: list[dict[str, Any]], patches: list[dict[str, Any]], *, path: str, cluster: str
) -> dict[ObjectKey, dict[str, Any] | None]:
    """``patches`` applied in order to ``targets`` (distinct identities, namespaces already defaulted, each
    patch naming one of them): the result of every target by identity, None where a patch deleted it
    (``$patch: delete`` at the top of a patch)."""
    if not tools.kubectl:
        raise RenderError(
            "strategic-merge patches are applied by kustomize, which is not available: run `fleet lab build`,"
            " or set kubectlPath in the hub config",
            path=path,
            cluster=cluster,
        )
    files = {"resources.yaml": _documents(targets)}
    for number, patch in enumerate(patches):
        files[f"patch-{number}.yaml"] = _documents([patch])
    kustomization = {
        "resources": ["resources.yaml"],
        "patches": [{"path": f"patch-{number}.yaml"} for number in range(len(patches))],
        "sortOptions": {"order": "fifo"},
    }
    files["kustomization.yaml"] = json.dumps(kustomization).encode()
    runner = runner_for(tools)
    key = tool_key(tools.kubectl, ["kustomize", "patches"], files_digest(files), b"")

    def run() -> str:
        with workdir(files) as root:
            argv = [tools.kubectl, "kustomize", "."]
            return run_tool(argv, root=root, cwd=root / "tree", what="kustomize patch", path=path, cluster=cluster)

    text = runner.cached(key, run)
    built = load_all(text, path, cluster=cluster, what=" in kustomize's output", error=RenderError, go_emitted=True)
    wanted = {ObjectKey.of(obj) for obj in targets}
    result: dict[ObjectKey, dict[str, Any] | None] = dict.fromkeys(wanted)
    for obj in built:
        found = ObjectKey.of(obj) if isinstance(obj, dict) else None
        if found not in wanted:
            message = f"kustomize returned an object fleet did not give it: {found}"
            raise RenderError(message, path=path, cluster=cluster)
        result[found] = obj
    return result


def _documents(objects: list[dict[str, Any]]) -> bytes:
    """YAML that quotes only what YAML 1.1 would otherwise read as another type. Not JSON: kustomize keeps
    a replaced value's quoting, so a number patched over a quoted string would come out a string
    (kubernetes-sigs/kustomize#6140); kustomize keeps each value's style, which our YAML 1.1 reader
    reads back as the same type."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=True, width=1 << 16, allow_unicode=True).encode()
