"""YAML reading with errors that name the file and line, and rejection of duplicate keys.

PyYAML's C parser is used where available: rendering a large fleet parses a lot of YAML.
"""

from __future__ import annotations

import marshal
from collections import OrderedDict
from typing import Any

import yaml

from fleet.errors import InputError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_Base):  # type: ignore[misc]
    """SafeLoader that refuses a mapping with the same key twice (YAML says it is an error)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # resolve `<<` merge keys first: they are not duplicates
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # unhashable key: construct_mapping below reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _error(exc: yaml.YAMLError, path: str, *, cluster: str | None, what: str, error: type[InputError]) -> InputError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"invalid YAML{what}: {problem}" + (f" ({context})" if context else "")
    return error(detail, path=path, line=mark.line + 1 if mark else None, cluster=cluster)


MAX_DEPTH = 100  # nesting levels of a single-document file (registry entries, settings, values)


class TooDeep(Exception):
    """Nested deeper than MAX_DEPTH."""


def check_depth(text: str) -> None:
    """Raises TooDeep when ``text`` nests deeper than MAX_DEPTH, found by walking the C parser's events
    (no recursion), before any recursive composer runs on it. Letting the composer hit Python's recursion
    limit instead is caught, but leaves half-finished parser objects whose clean-up fails later, at a
    random moment, while formatting a thousand-frame traceback."""
    depth = 0
    for event in yaml.parse(text, Loader=_Base):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise TooDeep
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def load_one(
    text: str, path: str, *, cluster: str | None = None, what: str = "", error: type[InputError] = InputError
) -> Any:
    try:
        check_depth(text)
        return yaml.load(text, Loader=StrictLoader)
    except TooDeep:
        raise error(f"YAML nested too deeply (more than {MAX_DEPTH} levels)", path=path, cluster=cluster) from None
    except yaml.YAMLError as exc:
        raise _error(exc, path, cluster=cluster, what=what, error=error) from None
    except RecursionError:
        raise error("YAML nested too deeply", path=path, cluster=cluster) from None
    except (TypeError, ValueError, OverflowError) as exc:  # a tagged value PyYAML cannot build
        raise error(f"invalid YAML value{what}: {_short(exc)}", path=path, cluster=cluster) from None


class _NeedsFullLoader(Exception):
    """A construct the fast path does not handle (merge keys, custom tags): use PyYAML's constructor."""


_STR, _INT, _FLOAT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
_SCALARS = yaml.constructor.SafeConstructor()
MAX_NODES = 2_000_000  # per document stream: aliases are expanded, so an alias bomb stops here


_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers  # first character -> [(tag, regexp)]
_TYPED_FIRST = frozenset(c for c in _IMPLICIT if c)  # a plain scalar starting otherwise is a string
_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_PLAIN = "fleet:plain"  # an untagged plain scalar, typed by _Converter (never seen outside this module)
_ScalarNode, _SequenceNode, _MappingNode = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Converter:
    """Nodes composed by the C parser -> plain Python data, about three times as fast as PyYAML's
    constructor. The composer runs without implicit resolution (_Composer); untagged plain scalars are
    typed here with PyYAML's own YAML 1.1 rules, looked at only when their first character can start a
    non-string. Quoted and block scalars, and `!!str`, are strings.

    Aliases are expanded into copies, so that fleet's edits to one place (labels, namespaces) never leak
    into another place that shared an anchor; timestamps stay strings, as Kubernetes expects.

    The common case, a scalar that can only be a string, is handled inline in the loops of ``convert``:
    one function call per node was about a quarter of a render's CPU (profiled)."""

    def __init__(self, *, go_emitted: bool = False) -> None:
        self.budget = MAX_NODES
        self.go_emitted = go_emitted

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _STR:
            return node.value
        if node.tag != _PLAIN:
            raise _NeedsFullLoader  # an explicit tag (!!binary, !!int, !!python/...): PyYAML decides
        value = node.value
        if not value:
            return None
        for tag, regexp in _IMPLICIT.get(value[0], ()):
            if regexp.match(value):
                if tag == _INT:
                    return _SCALARS.construct_yaml_int(node)
                if tag == _BOOL:
                    return _SCALARS.construct_yaml_bool(node)
                if tag == _NULL:
                    return None
                if tag == _FLOAT:
                    return _SCALARS.construct_yaml_float(node)
                if tag in (_TIMESTAMP, _STR) or self.go_emitted:
                    return value  # Go's YAML writes `=` and `<<` plain, meaning the strings
                raise _NeedsFullLoader  # merge keys, `=`: PyYAML decides
        return value

    def convert(self, node: yaml.Node) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise yaml.constructor.ConstructorError(
                None, None, f"expands to more than {MAX_NODES} nodes (alias bomb?)", node.start_mark
            )
        if isinstance(node, _MappingNode):  # the most common collection first
            if node.tag != _MAP:
                raise _NeedsFullLoader
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key: Any
                if type(key_node) is _ScalarNode:
                    tag, key = key_node.tag, key_node.value
                    if tag == _STR or (tag == _PLAIN and key and key[0] not in _TYPED_FIRST):
                        self.budget -= 1
                    else:
                        key = self.convert(key_node)
                else:
                    key = self.convert(key_node)
                try:
                    duplicate = key in result
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a mapping key must be a string or number", key_node.start_mark
                    ) from None
                if duplicate:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                if type(value_node) is _ScalarNode:
                    tag, value = value_node.tag, value_node.value
                    if tag == _STR or (tag == _PLAIN and value and value[0] not in _TYPED_FIRST):
                        self.budget -= 1
                        result[key] = value
                        continue
                result[key] = self.convert(value_node)
            return result
        if isinstance(node, _SequenceNode):
            if node.tag != _SEQ:
                raise _NeedsFullLoader
            items = []
            for item in node.value:
                if type(item) is _ScalarNode:
                    tag, value = item.tag, item.value
                    if tag == _STR or (tag == _PLAIN and value and value[0] not in _TYPED_FIRST):
                        self.budget -= 1
                        items.append(value)
                        continue
                items.append(self.convert(item))
            return items
        if isinstance(node, _ScalarNode):
            return self.scalar(node)
        raise _NeedsFullLoader


def _unshare(value: Any, budget: list[int] | None = None) -> Any:
    """A copy in which no dict or list appears twice (PyYAML shares the objects of an alias)."""
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise yaml.constructor.ConstructorError(None, None, f"expands to more than {MAX_NODES} nodes (alias bomb?)")
    if isinstance(value, dict):
        return {k: _unshare(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshare(v, budget) for v in value]
    return value


_BaseComposer: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_DEFAULT_TAGS = {_ScalarNode: _STR, _SequenceNode: _SEQ, _MappingNode: _MAP}


class _Composer(_BaseComposer):  # type: ignore[misc]
    """The C composer without resolution: untagged plain scalars are marked _PLAIN for _Converter to
    type, every other untagged node gets the default tag of its kind (a quoted or block scalar is a
    string). The base resolver did the same through three Python calls per node, and could not tell an
    untagged plain `12` from `!!str 12`."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is _ScalarNode and implicit[0]:
            return _PLAIN
        return _DEFAULT_TAGS[kind]

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


def _fast_load_all(text: str, *, go_emitted: bool = False) -> list[Any]:
    loader = _Composer(text)
    try:
        documents = []
        converter = _Converter(go_emitted=go_emitted)
        while loader.check_node():
            documents.append(converter.convert(loader.get_node()))
        return documents
    finally:
        loader.dispose()


class ParsedTexts:
    """Texts parsed before, kept as marshal bytes: rendered texts repeat (a template that uses only its
    env's values renders the same text for every cluster of the env; a renderer keeps one of these per
    revision), and loading marshal bytes (C) is many times faster than parsing YAML. Each use gets fresh
    objects, so callers may edit what they get. Bounded (characters of the texts plus bytes of the results),
    the least recently used dropped first; errors are never kept (their messages name each use's path and
    cluster)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[tuple[str, bool], bytes] = OrderedDict()

    def get(self, text: str, go_emitted: bool) -> list[Any] | None:
        blob = self.entries.get((text, go_emitted))
        if blob is None:
            return None
        self.entries.move_to_end((text, go_emitted))
        return marshal.loads(blob)  # type: ignore[no-any-return]

    def put(self, text: str, go_emitted: bool, documents: list[Any]) -> None:
        if len(text) > self.max_bytes // 16:
            return  # one huge text would push out everything else
        try:
            blob = marshal.dumps(documents)
        except ValueError:
            return  # a value marshal cannot hold (a timestamp from a tagged document): parse it each time
        self.entries[(text, go_emitted)] = blob
        self.size += len(text) + len(blob)
        while self.size > self.max_bytes:
            (old_text, _), old_blob = self.entries.popitem(last=False)
            self.size -= len(old_text) + len(old_blob)


PARSED_TEXTS_BYTES = 16 * 1024 * 1024  # per renderer (a worker keeps 4): well within its memory limit


def load_all(
    text: str,
    path: str,
    *,
    cluster: str | None = None,
    what: str = "",
    error: type[InputError] = InputError,
    go_emitted: bool = False,
    cache: ParsedTexts | None = None,
) -> list[Any]:
    """The documents of ``text``. ``go_emitted``: the text was written by kustomize (Go's YAML, which
    quotes every string YAML 1.1 would read as another type, but writes `=` and `<<` plain). ``cache``:
    texts parsed before, looked up first and added to."""
    if cache is not None:
        known = cache.get(text, go_emitted)
        if known is not None:
            return known
    try:
        try:
            documents = _fast_load_all(text, go_emitted=go_emitted)
        except _NeedsFullLoader:
            documents = [_unshare(doc) for doc in yaml.load_all(text, Loader=StrictLoader)]
    except yaml.YAMLError as exc:
        raise _error(exc, path, cluster=cluster, what=what, error=error) from None
    except RecursionError:
        raise error("YAML nested too deeply", path=path, cluster=cluster) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise error(f"invalid YAML value{what}: {_short(exc)}", path=path, cluster=cluster) from None
    if cache is not None:
        cache.put(text, go_emitted, documents)
    return documents


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:200]


def document_lines(text: str) -> list[int]:
    """1-based start line of each document in a stream (used only to point at a bad document)."""
    try:
        check_depth(text)
        return [
            node.start_mark.line + 1 if node is not None else 0
            for node in yaml.compose_all(text, Loader=yaml.SafeLoader)
        ]
    except (yaml.YAMLError, RecursionError, TooDeep):
        return []


def key_lines(text: str) -> dict[str, int]:
    """1-based line of each top-level key of a single mapping document (for field errors)."""
    try:
        check_depth(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError, TooDeep):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
