"""Arbitrary input never escapes as anything but fleet's own errors (which the CLI turns into a message
and an exit code): no traceback for any file content."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet.errors import FleetError, InputError
from fleet.model.vocabulary import MANAGED_BY
from fleet.render.engine import Renderer, envs_of
from fleet.repo.registry import load_registry
from fleet.repo.source import Snapshot
from tests.support.fleetfiles import CONFIG, MINIMAL, snapshot

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


def _checked(snap: Snapshot, *, file: str) -> None:
    """Load and render dev-1 from ``snap``: either every object carries an identity and fleet's labels, or
    the failure is an input error naming a file of the fleet (never a traceback, never a silent pass)."""
    try:
        registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
        rendered = Renderer(snap).render(registry.get("dev-1"))
    except InputError as exc:
        assert exc.path, f"input error without a file: {exc}"
        assert exc.path.startswith(("clusters/", "overlays/")), exc.path
        assert str(exc).strip(), "an empty message"
        return
    except FleetError as exc:  # not input: only a fleet-wide condition, stated in words
        assert str(exc).strip(), "an empty message"
        return
    assert rendered.objects, f"{file} rendered nothing and no error said why"
    for key, obj in rendered.objects.items():
        assert key.kind and key.name, key
        assert obj["metadata"]["labels"][MANAGED_BY] == "fleet", key


@given(yaml_ish)
def test_any_template_content_renders_or_names_the_file(text: str) -> None:
    _checked(snapshot({**MINIMAL, "overlays/base/fuzz.yaml": text}), file="overlays/base/fuzz.yaml")


@given(yaml_ish)
def test_any_registry_entry_loads_or_names_the_file(text: str) -> None:
    _checked(snapshot({**MINIMAL, "clusters/dev-1.yaml": text}), file="clusters/dev-1.yaml")


@given(yaml_ish, yaml_ish)
def test_any_values_and_patches_render_or_name_the_file(values: str, patch: str) -> None:
    files = {**MINIMAL, "overlays/dev/values.yaml": values, "overlays/dev/patches/p.yaml": patch}
    _checked(snapshot(files), file="overlays/dev/")
