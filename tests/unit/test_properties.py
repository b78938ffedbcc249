"""Properties of the pure stages, over generated inputs."""

from __future__ import annotations

import contextlib
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from fleet.manifest import canonical, dump_yaml
from fleet.render.values import deep_merge, merge_all
from fleet.selector import parse_selector

keys = st.text(alphabet="abcdef", min_size=1, max_size=3)
scalars = st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)
mappings = st.dictionaries(keys, values, max_size=4)


@given(mappings, mappings)
def test_merge_keeps_every_override_leaf(base: dict[str, Any], override: dict[str, Any]) -> None:
    merged = deep_merge(base, override)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            assert set(value) <= set(merged[key])
        else:
            assert merged[key] == value
    for key in base:
        assert key in merged


@given(mappings, mappings, mappings)
def test_merge_all_is_a_left_fold_and_does_not_mutate(a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]) -> None:
    """Layers apply in order. (Merging is not associative, and need not be: ``b={'a': []}`` replaces a
    mapping with a list, so whether ``c={'a': {}}`` meets ``{'a': None}``-style content depends on order.)"""
    before = repr((a, b, c))
    assert merge_all(a, b, c) == deep_merge(deep_merge(a, b), c)
    assert repr((a, b, c)) == before


@given(mappings, mappings, mappings)
def test_merge_is_associative_when_no_layer_replaces_a_mapping(
    a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]
) -> None:
    def kinds(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], bool]:
        found = {path: isinstance(value, dict)}
        if isinstance(value, dict):
            for key, child in value.items():
                found.update(kinds(child, (*path, key)))
        return found

    seen: dict[tuple[str, ...], bool] = {}
    for layer in (a, b, c):
        for path, is_mapping in kinds(layer).items():
            if seen.setdefault(path, is_mapping) != is_mapping:
                return  # a mapping replaced by a scalar or list (or back): order decides, by design
    assert deep_merge(deep_merge(a, b), c) == deep_merge(a, deep_merge(b, c))


@given(st.lists(mappings, min_size=1, max_size=3))
def test_yaml_output_round_trips_and_is_stable(objects: list[dict[str, Any]]) -> None:
    docs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, **o} for o in objects]
    text = dump_yaml(docs)
    loaded = list(yaml.safe_load_all(text))
    assert loaded == [canonical(d) for d in docs]
    assert dump_yaml(loaded) == text


label_values = st.text(alphabet="abc12", min_size=1, max_size=3)


@given(st.dictionaries(st.sampled_from(["region", "wave", "tier"]), label_values, max_size=3), label_values)
def test_selector_semantics(labels: dict[str, str], value: str) -> None:
    assert parse_selector(f"region={value}").matches(labels) == (labels.get("region") == value)
    assert parse_selector(f"region!={value}").matches(labels) == (labels.get("region") != value)
    assert parse_selector(f"region in ({value},zz)").matches(labels) == (labels.get("region") in (value, "zz"))
    assert parse_selector("!wave").matches(labels) == ("wave" not in labels)
    assert parse_selector("wave").matches(labels) == ("wave" in labels)


yaml_values = st.recursive(
    st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=8), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=15,
)


@given(st.lists(yaml_values, min_size=1, max_size=3))
def test_fast_yaml_loader_agrees_with_pyyaml(documents: list[Any]) -> None:
    from fleet.yamlio import load_all

    text = yaml.safe_dump_all(documents)
    assert load_all(text, "x.yaml") == list(yaml.safe_load_all(text))


def test_fast_yaml_loader_copies_aliases_and_handles_merge_keys() -> None:
    from fleet.yamlio import load_all

    doc = load_all("a: &l {x: 1}\nb: *l\nc:\n  <<: *l\n  y: 2\n", "x.yaml")[0]
    assert doc == {"a": {"x": 1}, "b": {"x": 1}, "c": {"x": 1, "y": 2}}
    doc["a"]["x"] = 5
    assert doc["b"]["x"] == 1  # no shared objects: editing one place never changes another


PLAIN = [
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "False",
    "~",
    "null",
    "Null",
    "0",
    "-0",
    "+12",
    "0x1F",
    "0o17",
    "017",
    "0b101",
    "1_000",
    "1:20",
    "190:20:30",
    "3.14",
    "-.5e3",
    "1e3",
    ".inf",
    "-.Inf",
    ".nan",
    "1.0e+3",
    "12abc",
    "v1",
    "a:b",
    "@x",
    "%x",
    "=",
    "-",
    ".",
    "0.",
    "1,000",
    "0x",
    "nul",
    "y",
    "n",
    "Y",
    "N",
]


@given(st.lists(st.sampled_from(PLAIN), min_size=1, max_size=6))
def test_fast_loader_types_plain_scalars_like_pyyaml(values: list[str]) -> None:
    from fleet.yamlio import load_all

    text = (
        "".join(f"k{i}: {v}\n" for i, v in enumerate(values))
        + "list: ["
        + ", ".join(v for v in values if v not in ("@x", "%x", "-", "="))
        + "]\n"
    )
    try:
        expected = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return  # not valid YAML at all: nothing to agree on
    assert load_all(text, "x.yaml") == expected


STYLED = [
    '"quoted: yes"',
    "'single'",
    '"12"',
    "''",
    "|\n    block\n",
    ">-\n    folded\n",
    "!!str 12",
    "!!str",
    "! 12",
    "!!int '7'",
]


@given(st.lists(st.sampled_from(PLAIN + STYLED), min_size=1, max_size=6, unique=True))
def test_fast_loader_types_keys_and_block_items_like_pyyaml(values: list[str]) -> None:
    """The converter's inline path (plain scalars that can only be strings, quoted and block scalars) and
    its full path (anything typed or tagged) agree with PyYAML as mapping keys and as block sequence items."""
    from fleet.yamlio import load_all

    typed: dict[Any, str] = {}  # one key per value PyYAML reads (fleet refuses keys YAML reads as equal)
    for v in values:
        if "\n" not in v and v not in ("-", "=", "@x", "%x"):
            with contextlib.suppress(yaml.YAMLError, TypeError):
                typed.setdefault(yaml.safe_load(v), v)
    keys = "".join(f"{v}: {i}\n" for i, v in enumerate(typed.values()))
    items = "".join(f"- {v}\n" for v in values if v not in ("@x", "%x"))
    text = (keys or "{}\n") + "---\n" + (items or "[]\n")
    try:
        expected = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return  # not valid YAML at all: nothing to agree on
    assert load_all(text, "x.yaml") == expected


def test_explicit_str_tag_keeps_a_string() -> None:
    """`!!str 12` is the string "12" (the fast loader once read it as the integer 12, and `!!str` as null)."""
    from fleet.yamlio import load_all

    assert load_all("a: !!str 12\nb: !!str\nc: [!!str true]\n", "x.yaml") == [{"a": "12", "b": "", "c": ["true"]}]
