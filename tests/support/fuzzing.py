"""Hostile fleet repositories, generated from a seed: the fuzz test (tests/security/test_fuzz.py) and
bench/fuzz.py share these cases.

Each case is the small valid fleet of tests/support/fleetfiles.py with one file replaced or added: a cluster
entry, values, a template, a patch, a release pin or env settings, written from fragments known to break
parsers and renderers (odd YAML tags, huge numbers, deep nesting, anchors, non-UTF-8 bytes, templates that
loop or grow, patches that remove what objects need). ``load_revision`` runs what the hub and the CLI run on
a revision: only fleet's own errors may come out of it.
"""

from __future__ import annotations

import json
import random
import textwrap
from dataclasses import dataclass
from pathlib import Path

from fleet.config import FleetConfig
from fleet.manifest import dump_json, dump_yaml
from fleet.model.promotion import Pin
from fleet.model.vocabulary import release_path
from fleet.repo.envsettings import env_settings
from fleet.repo.source import Snapshot
from fleet.workflows.workspace import Workspace
from tests.support.fleetfiles import MINIMAL

FUZZ_CONFIG = FleetConfig(Path("/credentials"), render_timeout=2.0, render_memory_mb=384)

TARGETS = [
    "clusters/dev-1.yaml",
    "clusters/dev-2.yml",
    "clusters/dev-1.yml",
    "overlays/base/values.yaml",
    "overlays/dev/values.yaml",
    "overlays/base/app.yaml",
    "overlays/base/extra.yaml",
    "overlays/dev/patches/p.yaml",
    "overlays/dev/release.yaml",
    "overlays/dev/env.yaml",
    "overlays/dev/sources.yaml",
]

SOURCES = [
    "helm:\n  - chart: VALUE\n",
    "helm:\n  - chart: ../base\n    release: VALUE\n    values: VALUE\n",
    "helm:\n  - repo: VALUE\n    chart: shop\n    version: VALUE\n",
    "helm:\n  - chart: ../../../../etc\n    namespace: VALUE\n",
    "kustomize:\n  - path: VALUE\n",
    "kustomize: VALUE\nhelm: VALUE\n",
]

SCALARS = [
    "1" + "0" * 400,
    "-1e400",
    ".nan",
    ".inf",
    "0x" + "f" * 80,
    "0o777",
    "1_000",
    "2026-11-28",
    "2026-11-28T10:00:00Z",
    "~",
    "null",
    "yes",
    "!!binary aGVsbG8=",
    "!!timestamp 2001-12-14",
    "!!float 1e999",
    "!!int '12'",
    "!!str 12",
    "!!set {a, b}",
    "!!omap [{a: 1}]",
    "!!python/object:os.system {}",
    "!!python/name:os.system",
    "!custom x",
    '"\\u0000"',
    '"\\ud800"',
    "'é ü 中'",
    "*undefined_alias",
    "&a [*a]",
    "[" * 300 + "]" * 300,
    "{a: " * 200 + "1" + "}" * 200,
    "? [a, b]\n: c",
    "<<: {a: 1}",
    "{{ values }}",
    "{{ values.nope }}",
    "{{ 1/0 }}",
    "{{ cluster.__class__.__mro__ }}",
    "{{ ''.__class__ }}",
    "{{ range(10**9) | list }}",
    "{{ 'x' * 10**8 }}",
    "{{ '%9999999s' | format('x') }}",
    "{{ 9 ** 9 ** 9 }}",
    "{% for x in values %}{% endfor %}",
    "{% include '../../etc/passwd' %}",
    "{% include '/etc/passwd' %}",
    "{% import 'base/app.yaml' as m %}",
    "{{ lipsum(10**6) }}",
    "{{ namespace(a=1) }}",
    "{{ values.update({}) }}",
    "{{ self }}",
    "{{ config }}",
]

DOCS = [
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: VALUE}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: VALUE}\n",
    "apiVersion: VALUE\nkind: ConfigMap\nmetadata: {name: x}\n",
    "apiVersion: v1\nkind: VALUE\nmetadata: {name: x}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: VALUE}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: {VALUE: a}}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: {a: VALUE}}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: VALUE}\n",
    "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: VALUE}\n",
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: a.b}\n"
    "spec: {group: VALUE, names: {kind: VALUE}, scope: VALUE}\n",
    "VALUE",
    "- VALUE",
    "---\nVALUE\n---\n",
]

PATCHES = [
    "target: {kind: Deployment, name: app}\npatch:\n  - {op: remove, path: /metadata}\n",
    "target: {kind: Deployment, name: app}\npatch:\n  - {op: remove, path: /kind}\n",
    "target: {kind: Deployment, name: app}\npatch:\n  - {op: replace, path: /apiVersion, value: VALUE}\n",
    "target: {kind: Deployment, name: app}\npatch:\n  - {op: replace, path: /metadata/name, value: VALUE}\n",
    "target: {kind: Deployment, name: app}\npatch:\n  - {op: add, path: /metadata/labels, value: VALUE}\n",
    "target: {kind: Deployment, name: app}\npatch:\n  - {op: replace, path: '', value: VALUE}\n",
    "target: {kind: Deployment, name: app}\npatch:\n  - {op: copy, from: /spec, path: /spec/x}\n"
    "  - {op: copy, from: /spec, path: /spec/y}\n  - {op: move, from: /spec, path: /spec/z}\n",
    "target: VALUE\npatch: []\n",
    "target: {kind: Deployment, name: app}\npatch: VALUE\n",
    "target: {kind: Deployment, labelSelector: VALUE}\npatch: []\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec: VALUE\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, labels: VALUE}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n"
    "spec: {template: {spec: {containers: [{name: app, $patch: VALUE}]}}}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: VALUE\n",
]

MAPPINGS = [
    "env: dev\nkubeconfig: k\nlabels: {wave: VALUE}\n",
    "env: dev\nkubeconfig: VALUE\n",
    "env: VALUE\nkubeconfig: k\n",
    "env: dev\nkubeconfig: k\nvalues: VALUE\n",
    "env: dev\nkubeconfig: k\nenabled: VALUE\n",
    "env: dev\nkubeconfig: k\ncontext: VALUE\n",
    "name: VALUE\nenv: dev\nkubeconfig: k\n",
    "replicas: VALUE\nimage: {tag: VALUE}\n",
    "namespace: VALUE\n",
    "revision: VALUE\nvalues: {image: {tag: VALUE}}\n",
    "revision: HEAD\nvalues: VALUE\n",
    "rollout: {waveTimeout: VALUE, autoRollback: VALUE}\ngates: {minSoakSeconds: VALUE}\n",
    "VALUE: VALUE\n",
    "VALUE",
]

RAW = [
    b"\xff\xfe\x00bad utf-8",
    b"a: 1\na: 2\n",
    b"\t- tab indented\n",
    b"key: 'unterminated\n",
    b"",
    b"---\n---\n",
    b"- " * 2000,
    b"a: &x [" + b"*x, " * 50 + b"]\n",
]


@dataclass(frozen=True)
class Case:
    number: int
    files: dict[str, bytes]

    def describe(self) -> str:
        changed = {p: b for p, b in self.files.items() if MINIMAL.get(p, "").encode() != b}
        return json.dumps({p: b.decode("utf-8", "replace")[:200] for p, b in changed.items()})


def case(seed: int, number: int) -> Case:
    rng = random.Random(f"{seed}:{number}")
    files = {p: textwrap.dedent(t).encode() for p, t in MINIMAL.items()}
    for _ in range(rng.choice((1, 1, 1, 2))):
        target = rng.choice(TARGETS)
        files[target] = _content(rng, target)
    return Case(number, files)


def _content(rng: random.Random, target: str) -> bytes:
    if rng.random() < 0.1:
        return rng.choice(RAW)
    if "/patches/" in target:
        template = rng.choice(PATCHES)
    elif target.endswith("sources.yaml"):
        template = rng.choice(SOURCES)
    elif target.startswith("overlays/base/") and not target.endswith("values.yaml"):
        template = rng.choice(DOCS)
    else:
        template = rng.choice(MAPPINGS)
    text = template
    while "VALUE" in text:
        text = text.replace("VALUE", _scalar(rng), 1)
    return text.encode("utf-8", "surrogatepass")


def _scalar(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.7:
        return rng.choice(SCALARS)
    if roll < 0.85:
        return "".join(rng.choice("{}[]:-|>&*!%#'\"\n ab1,?") for _ in range(rng.randint(1, 30)))
    return json.dumps(rng.choice(SCALARS))


def load_revision(c: Case) -> int:
    """What the hub and the CLI do with a revision: registry, env settings, release pins, rendering of every
    cluster (in the bounded workers), and the JSON and YAML output. Returns the number of objects."""
    workspace = Workspace(Snapshot(f"fuzz-{c.number}", c.files), FUZZ_CONFIG)
    registry = workspace.registry
    for env in registry.envs:
        env_settings(workspace.snapshot, env)
        Pin.parse(workspace.snapshot.files.get(release_path(env), b""), release_path(env))
    rendered = workspace.render_all(list(registry.clusters))
    objects = [obj for r in rendered for obj in r.objects.values()]
    dump_json(objects)
    dump_yaml(objects)
    return len(objects)
