"""Arbitrary input never escapes as anything but fleet's own errors (which the CLI turns into a message
and an exit code): no traceback for any file content."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from fleet.errors import FleetError
from fleet.render.engine import Renderer, envs_of
from fleet.repo.registry import load_registry
from tests.unit.fleetfiles import CONFIG, MINIMAL, snapshot

yaml_ish = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="{}[]:-|>&*!%#'\"\n ab1{%}", max_size=120),
    st.sampled_from(
        [
            "{{ values }}",
            "{{ 1/0 }}",
            "{% for x in range(10**9) %}{% endfor %}",
            "{{ range(10**9) | list }}",
            "{{ cluster.__class__ }}",
            "{{ 'a' ~ values.replicas ** 1000000 }}",
            "apiVersion: v1\nkind: X\nmetadata: {name: [1]}\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: [x]}\n",
            "&a [*a]",
            "--- !!python/object:os.system {}",
        ]
    ),
)


@given(yaml_ish)
def test_any_template_content_raises_only_fleet_errors(text: str) -> None:
    snap = snapshot({**MINIMAL, "overlays/base/fuzz.yaml": text})
    try:
        registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
        Renderer(snap).render(registry.get("dev-1"))
    except FleetError:
        pass


@given(yaml_ish)
def test_any_registry_entry_raises_only_fleet_errors(text: str) -> None:
    snap = snapshot({**MINIMAL, "clusters/dev-1.yaml": text})
    with contextlib.suppress(FleetError):
        load_registry(snap, CONFIG, known_envs=envs_of(snap))


@given(yaml_ish, yaml_ish)
def test_any_values_and_patches_raise_only_fleet_errors(values: str, patch: str) -> None:
    snap = snapshot({**MINIMAL, "overlays/dev/values.yaml": values, "overlays/dev/patches/p.yaml": patch})
    try:
        registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
        Renderer(snap).render(registry.get("dev-1"))
    except FleetError:
        pass
