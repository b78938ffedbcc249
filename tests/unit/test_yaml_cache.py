"""Texts parsed before are loaded from a bounded cache: every use gets its own objects, errors name each
use's own file and cluster, and values marshal cannot hold are parsed each time."""

from __future__ import annotations

import datetime

import pytest

from fleet.errors import RenderError
from fleet.yamlio import PARSED_TEXTS_BYTES, ParsedTexts, load_all

TEXT = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {x: 'y'}}\ndata: {n: '1', b: 'true'}\n"
    "---\n- 1\n- 2.5\n- true\n- null\n"
)


def test_a_repeated_text_gives_equal_but_separate_objects() -> None:
    cache = ParsedTexts(PARSED_TEXTS_BYTES)
    first = load_all(TEXT, "a.yaml", cache=cache)
    second = load_all(TEXT, "a.yaml", cache=cache)
    assert cache.entries
    assert (
        first
        == second
        == [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "a", "labels": {"x": "y"}},
                "data": {"n": "1", "b": "true"},
            },
            [1, 2.5, True, None],
        ]
    )
    first[0]["metadata"]["labels"]["x"] = "edited"  # fleet labels and namespaces what it gets
    first[1].append(3)
    assert load_all(TEXT, "a.yaml", cache=cache) == second
    assert [type(v) for v in load_all(TEXT, "a.yaml", cache=cache)[1]] == [int, float, bool, type(None)]


SHARED = ParsedTexts(PARSED_TEXTS_BYTES)


@pytest.mark.parametrize("cluster", ["one", "two"])
def test_errors_are_not_kept_and_name_each_use(cluster: str) -> None:
    with pytest.raises(RenderError) as caught:
        load_all("a: [1\n", f"{cluster}.yaml", cluster=cluster, error=RenderError, cache=SHARED)
    assert caught.value.path == f"{cluster}.yaml"
    assert caught.value.cluster == cluster


def test_values_marshal_cannot_hold_are_parsed_each_time() -> None:
    text = "when: !!timestamp 2001-12-14\n"
    cache = ParsedTexts(PARSED_TEXTS_BYTES)
    assert load_all(text, "t.yaml", cache=cache) == load_all(text, "t.yaml", cache=cache)
    assert load_all(text, "t.yaml", cache=cache) == [{"when": datetime.date(2001, 12, 14)}]
    assert not cache.entries


def test_the_cache_stays_within_its_bytes() -> None:
    cache = ParsedTexts(max_bytes=4096)
    for i in range(200):
        cache.put(f"k{i}: {'v' * 40}\n", False, [{f"k{i}": "v" * 40}])
        assert cache.size <= 4096
    assert cache.get("k199: " + "v" * 40 + "\n", False) == [{"k199": "v" * 40}]
    assert cache.get("k0: " + "v" * 40 + "\n", False) is None  # the oldest went first
    cache.put("x" * 1000, False, ["too big for a cache of 4 KiB: kept out"])
    assert cache.get("x" * 1000, False) is None
