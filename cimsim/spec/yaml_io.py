"""Reading config YAML safely: ``yaml.SafeLoader`` (no object construction) plus the limits PyYAML lacks.

* duplicate keys in a mapping are an error (PyYAML silently keeps the last one);
* nesting is bounded (:data:`MAX_DEPTH`), so ``[[[[…]]]]`` cannot exhaust the Python stack;
* aliases are bounded by the size of the *expanded* document (:data:`MAX_NODES`), so a few-KB "billion
  laughs" alias bomb is refused after composing its small node graph, before anything walks the expansion;
  recursive aliases (``&a [*a]``) are refused;
* the file is bounded in size (:data:`MAX_BYTES`) and must be UTF-8 text.

Parsing and composing run in libyaml (``yaml.CSafeLoader``) when PyYAML was built with it, which is about ten
times faster than the pure-Python parser (≈ 40 ms of every CLI call for the two shipped configs). libyaml's
composer recurses in C, so the nesting limit is checked first on its (iterative) event stream; the expansion
check and the constructor (duplicate keys, YAML 1.2 floats) are the same Python code for both parsers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from cimsim.errors import ConfigError, short_repr

# 1 MiB: the shipped configs are 2–6 KB; a config 200× larger is a mistake (or an attack), not a design.
MAX_BYTES = 1 << 20
# Deepest nesting of collections. Real specs nest 4 levels (network.layers[i].field); 64 leaves room for
# any sweep file while keeping every recursive walk (PyYAML, pydantic, deepcopy) far from Python's stack limit.
MAX_DEPTH = 64
# Nodes of the document with every alias expanded. The largest plausible config (a 1000-layer network
# with 10 fields per layer) has about 2·10⁴ nodes; an alias bomb expands to 10⁹ and more.
MAX_NODES = 200_000


class YamlLimitError(yaml.YAMLError):
    """A structural limit of :mod:`cimsim.spec.yaml_io` was exceeded."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _Limits:
    """Duplicate keys refused at construction; alias expansion checked on the composed graph."""

    def get_single_node(self) -> Node | None:
        node = super().get_single_node()
        if node is not None:
            check_expansion(node)
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` merges; keys written next to it legitimately override the base
                key = self.construct_object(key_node, deep=True)
                try:
                    dup = key in seen
                except TypeError:
                    continue  # unhashable key: the base constructor reports it
                if dup:
                    raise YamlLimitError(f"duplicate key {short_repr(key, 40)} (first on line "
                                         f"{seen[key].line + 1})", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


class SafeLimitedLoader(_Limits, yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys, deep nesting and alias expansion beyond the limits."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


if yaml.__with_libyaml__:
    class CSafeLimitedLoader(_Limits, yaml.CSafeLoader):
        """:class:`SafeLimitedLoader` on libyaml; call :func:`check_nesting` on the text first."""
else:  # PyYAML without libyaml: the pure-Python loader, which checks nesting as it composes
    CSafeLimitedLoader = None


def check_nesting(text: str) -> None:
    """Refuse collections nested deeper than :data:`MAX_DEPTH`, from libyaml's event stream (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


# YAML 1.2 floats: PyYAML follows YAML 1.1, where `5e-12` (no dot) is a *string*; physical configs are written
# that way, and an int field given `1e12` should fail as a number, not as "unable to parse string".
for _loader in (SafeLimitedLoader, CSafeLimitedLoader):
    if _loader is not None:
        _loader.add_implicit_resolver(
            "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
            list("-+0123456789"))


def check_expansion(root: Node) -> None:
    """Refuse a node graph whose alias-expanded size exceeds :data:`MAX_NODES` or depth :data:`MAX_DEPTH`,
    or that is recursive. Iterative post-order walk with memoisation: linear in the composed graph."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_NODES:
                raise YamlLimitError(f"expands (aliases included) to more than {MAX_NODES} values",
                                     node.start_mark)
            if depth[key] > MAX_DEPTH:
                raise YamlLimitError(f"nested (aliases included) deeper than {MAX_DEPTH} levels", node.start_mark)
            continue
        if key in size:
            continue
        if key in active:
            raise YamlLimitError("recursive alias (a node that contains itself)", node.start_mark)
        active.add(key)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in active:
                raise YamlLimitError("recursive alias (a node that contains itself)", kid.start_mark)
            if id(kid) not in size:
                stack.append((kid, False))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def loads(text: str, *, file: str) -> Any:
    """Parse ``text`` with :class:`SafeLimitedLoader`; any failure is a one-line ConfigError naming ``file``."""
    try:
        if CSafeLimitedLoader is None:
            return yaml.load(text, Loader=SafeLimitedLoader)  # noqa: S506  (a SafeLoader subclass)
        check_nesting(text)
        return yaml.load(text, Loader=CSafeLimitedLoader)  # noqa: S506  (a CSafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        if "maximum nesting depth" in problem:  # libyaml's own limit (1000), met while scanning ahead of ours
            problem = f"nested deeper than {MAX_DEPTH} levels"
        raise ConfigError(f"not valid YAML: {problem}", file=file, field=where) from None
    except RecursionError:  # belt and braces: the depth limit should make this unreachable
        raise ConfigError(f"not valid YAML: nested too deeply (limit {MAX_DEPTH})", file=file) from None


def read_text(path: str | Path, *, what: str = "YAML file") -> str:
    """The UTF-8 text of a config file, refusing directories, oversize files and binary content."""
    path = Path(path)
    file = str(path)
    if path.is_dir():
        raise ConfigError(f"is a directory, not a {what}", file=file)
    if not path.is_file():
        raise ConfigError("file not found", file=file)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{size} bytes; a {what} is at most {MAX_BYTES} bytes", file=file)
        raw = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from None
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\x93NUMPY"):
        raise ConfigError(f"is a numpy/zip binary file, not a {what} (weights go in the workload's "
                          "network.weights)", file=file)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", file=file) from None


def read_yaml(path: str | Path, *, what: str = "YAML file") -> dict[str, Any]:
    """The top-level mapping of a config file. An empty file (or one holding only comments) is an error:
    taking it silently as "all defaults" hides a wrong path or a truncated copy."""
    file = str(path)
    data = loads(read_text(path, what=what), file=file)
    if data is None:
        raise ConfigError("the file is empty (no keys); write at least one key, or `{}` for all defaults",
                          file=file)
    if not isinstance(data, dict):
        raise ConfigError(f"the top level must be a mapping of keys, not a {type(data).__name__}", file=file)
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"top-level key {short_repr(bad[0], 30)} is not a name", file=file)
    return data
