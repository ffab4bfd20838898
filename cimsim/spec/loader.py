"""YAML → validated spec, with ``--set dotted.path=value`` overrides and one-line errors.

Overrides are applied to the raw mapping before validation, so an override is checked exactly like a
value in the file; a path the schema does not know is rejected by name (with the nearest valid key) before
anything runs, and a value that fails validation is blamed on ``--set path=value``, not on the file.

Sections may be pydantic discriminated unions (``Annotated[A | B, Field(discriminator="model")]``): a key is
valid when the member selected by the section's ``model`` (from the data, else from the field's default)
has it; when ``--set`` changes ``model`` itself, the new member's fields apply and the keys only the old
member had are dropped from that section.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from cimsim.errors import ConfigError, clip, short_repr
from cimsim.spec.arch import ArchSpec
from cimsim.spec.sections import ComponentSection
from cimsim.spec.workload import WorkloadSpec
from cimsim.spec.yaml_io import read_yaml

__all__ = ["Override", "apply_overrides", "format_override", "load_arch", "load_workload", "parse_override", "read_yaml",
           "schema_node", "validate"]

M = TypeVar("M", bound=BaseModel)


# ----------------------------------------------------------------------------- schema walking
@dataclass(frozen=True)
class SchemaNode:
    """What a value in a spec is: a section (``model``), a union of sections (``members`` keyed by the tag in
    field ``tag``), a list or dict of ``item``, or a leaf (everything else)."""

    kind: str  # "model" | "union" | "list" | "dict" | "leaf"
    model: type[BaseModel] | None = None
    members: dict[str, type[BaseModel]] = field(default_factory=dict)
    tag: str | None = None
    default_tag: str | None = None
    item: SchemaNode | None = None

    def section(self, data: Any) -> type[BaseModel] | None:
        """The section class that applies to ``data`` (None: cannot tell, e.g. an unknown tag)."""
        if self.kind == "model":
            return self.model
        if self.kind == "union" and self.tag:
            tag = data.get(self.tag, self.default_tag) if isinstance(data, dict) else self.default_tag
            return self.members.get(tag) if isinstance(tag, str) else None
        return None

    def keys(self, data: Any) -> list[str]:
        """Keys valid in ``data`` (every member's keys when the member cannot be told)."""
        sec = self.section(data)
        if sec is not None:
            return list(sec.model_fields)
        if self.kind == "union":
            return sorted({k for m in self.members.values() for k in m.model_fields})
        return []


LEAF = SchemaNode("leaf")


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _tag_values(model: type[BaseModel], tag: str) -> list[str]:
    f = model.model_fields.get(tag)
    if f is None:
        return []
    if typing.get_origin(f.annotation) is typing.Literal:
        return [v for v in typing.get_args(f.annotation) if isinstance(v, str)]
    return [f.default] if isinstance(f.default, str) else []


def _default_tag(info: FieldInfo | None, tag: str) -> str | None:
    if info is None:
        return None
    default = info.default
    if info.default_factory is not None:
        try:
            default = info.default_factory()  # type: ignore[call-arg]
        except Exception:
            return None
    value = getattr(default, tag, None)
    return value if isinstance(value, str) else None


def _component_node(section: ComponentSection) -> SchemaNode:
    """A component section: a union of the registered models of its kind, tagged by ``model``."""
    from cimsim.components.base import model_names

    members = {name: section.params_class(name) for name in model_names(section.kind, selectable=True)}
    return SchemaNode("union", members=members, tag="model", default_tag=section.default_model)


def schema_node(annotation: Any, info: FieldInfo | None = None, discriminator: str | None = None) -> SchemaNode:
    """The :class:`SchemaNode` of a field's annotation (Optional, Annotated, list, dict and unions unwrapped)."""
    section = next((m for m in (info.metadata if info is not None else ()) if isinstance(m, ComponentSection)), None)
    if section is not None:
        return _component_node(section)
    disc = discriminator or (info.discriminator if info is not None and isinstance(info.discriminator, str) else None)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _annotated_node(annotation, info, disc)
    if origin in (typing.Union, types.UnionType):
        return _union_node(annotation, info, disc)
    if origin in (list, set, frozenset):
        args = typing.get_args(annotation)
        return SchemaNode("list", item=schema_node(args[0]) if args else LEAF)
    if origin is dict:
        args = typing.get_args(annotation)
        return SchemaNode("dict", item=schema_node(args[1]) if len(args) == 2 else LEAF)
    if _is_model(annotation):
        return SchemaNode("model", model=annotation)
    return LEAF


def _annotated_node(annotation: Any, info: FieldInfo | None, disc: str | None) -> SchemaNode:
    """``Annotated[base, ...]``: a component section, or ``base`` with the discriminator its metadata names."""
    base, *meta = typing.get_args(annotation)
    for m in meta:
        if isinstance(m, ComponentSection):
            return _component_node(m)
    for m in meta:
        if isinstance(m, FieldInfo) and isinstance(m.discriminator, str):
            disc = m.discriminator
    return schema_node(base, info, disc)


def _union_node(annotation: Any, info: FieldInfo | None, disc: str | None) -> SchemaNode:
    """A union: Optional unwrapped; sections told apart by ``disc`` or a shared Literal field."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1:
        return schema_node(args[0], info, disc)
    models = [a for a in args if _is_model(a)]
    if not models:
        return LEAF
    if disc is None:  # a plain union of sections: tell members apart by a shared Literal field if any
        shared = set.intersection(*(set(m.model_fields) for m in models))
        disc = next((k for k in sorted(shared) if all(_tag_values(m, k) for m in models)), None)
    members = {t: m for m in models for t in (_tag_values(m, disc) if disc else [])}
    if not members:
        members = {m.__name__: m for m in models}
    return SchemaNode("union", members=members, tag=disc, default_tag=_default_tag(info, disc) if disc else None)


def _child(node: SchemaNode, data: Any, key: Any) -> SchemaNode | None:
    """Schema of ``data[key]`` under ``node``; None when the key is not allowed there."""
    if node.kind in ("model", "union"):
        sec = node.section(data)
        if sec is not None:
            info = sec.model_fields.get(key) if isinstance(key, str) else None
            return None if info is None else schema_node(info.annotation, info)
        if node.kind == "union":  # unknown member: accept a key some member has, validation says the rest
            for m in node.members.values():
                if isinstance(key, str) and key in m.model_fields:
                    info = m.model_fields[key]
                    return schema_node(info.annotation, info)
        return None
    if node.kind in ("list", "dict"):
        return node.item or LEAF
    return None


def _suggest(key: str, options: list[str]) -> str:
    near = difflib.get_close_matches(str(key), options, n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else ""


def _allowed(options: list[str], limit: int = 110) -> str:
    return clip(", ".join(sorted(options)), limit)


# ----------------------------------------------------------------------------- overrides
class Override(tuple):
    """``(path, value)`` of one ``--set``, remembering the text the user typed (for error messages)."""

    text: str

    def __new__(cls, path: str, value: Any, text: str | None = None) -> Override:
        self = super().__new__(cls, (path, value))
        self.text = text if text is not None else f"{path}={value}"
        return self

    def retarget(self, path: str) -> Override:
        """The same override with its path re-rooted (``arch.x.y`` → ``x.y``), keeping the typed text."""
        return Override(path, self[1], self.text)


def parse_override(text: str) -> Override:
    """``"a.b.c=value"`` → ``("a.b.c", value)``; the value is parsed as YAML (numbers, bools, lists)."""
    from cimsim.spec.yaml_io import loads

    if "=" not in text:
        raise ConfigError(f"{clip(text, 60)!r} is not of the form dotted.path=value", file="--set")
    path, raw = text.split("=", 1)
    path = path.strip()
    if not path:
        raise ConfigError(f"{clip(text, 60)!r} names no field", file="--set", allowed="dotted.path=value")
    if any(not part for part in path.split(".")):
        raise ConfigError(f"{clip(path, 60)!r} has an empty path component", file="--set")
    try:
        value = loads(raw, file="--set") if raw.strip() else None
    except ConfigError:
        value = raw  # not YAML: take it as a string, validation judges it
    return Override(path, value, f"{path}={raw.strip()}")


def format_override(path: str, value: Any, override: Any = None) -> str:
    """``--set path=value`` as the user typed it (from ``override.text`` when known; value shortened)."""
    if isinstance(override, Override):
        return f"--set {clip(override.text, 100)}"
    if isinstance(value, bool):
        text = str(value).lower()
    elif value is None:
        text = ""
    elif isinstance(value, (int, float, str)):
        text = clip(str(value), 40)
    else:
        text = short_repr(value, 40)
    return f"--set {clip(path, 60)}={text}"


def apply_overrides(data: dict[str, Any], overrides: list[tuple[str, Any]], model: type[BaseModel],
                    *, source: str = "--set") -> dict[str, Any]:
    """Set each dotted path in a copy of ``data``; unknown paths are a ConfigError naming them.

    Path components index lists by position (``network.layers.1.out_features``). Setting a union's tag
    (e.g. ``column_periphery.model``) drops the section's keys the newly selected member does not have.
    """
    out = copy.deepcopy(data)
    root = SchemaNode("model", model=model)
    # a section's model first, so the fields set beside it are checked against the model they belong to
    for ov in sorted(overrides, key=lambda o: not o[0].endswith(".model")):
        path, value = ov
        where = format_override(path, value, ov) if source == "--set" else source
        keys = path.split(".")
        node: Any = out
        schema = root
        for i, raw_key in enumerate(keys):
            is_last = i == len(keys) - 1
            here = ".".join(keys[: i + 1])
            key: Any = raw_key
            if schema.kind != "list" and not isinstance(node, dict):
                raise ConfigError(f"{'.'.join(keys[:i])!r} is not a section in the file", file=where, field=path)
            if schema.kind == "list":
                if not isinstance(node, list):
                    raise ConfigError(f"{'.'.join(keys[:i])!r} is not a list in the file", file=where, field=path)
                try:
                    key = int(raw_key)
                    if key < 0:
                        raise IndexError(key)
                    node[key]
                except (ValueError, IndexError):
                    raise ConfigError(f"no item {raw_key!r} in a list of {len(node)}", file=where, field=here,
                                      allowed=f"0..{len(node) - 1}" if node else "nothing: the list is empty") from None
                child = schema.item or LEAF
            else:
                child = _child(schema, node, key)
                if child is None and is_last and value is None and schema.kind == "union":
                    node.pop(key, None)  # null for a field the section's model does not have: "not set"
                    break
                if child is None:
                    options = schema.keys(node)
                    raise ConfigError(f"unknown key {clip(raw_key, 40)!r}{_suggest(raw_key, options)}", file=where,
                                      field=here, allowed=_allowed(options) or None)
            if is_last:
                node[key] = value
                if schema.kind == "union" and key == schema.tag:
                    _drop_foreign_keys(node, schema)
                break
            nxt = node[key] if isinstance(node, list) else node.get(key)
            if child.kind == "leaf":
                raise ConfigError(f"{here!r} is a value, not a section", file=where, field=path)
            if nxt is None or (child.kind == "list" and not isinstance(nxt, list)) or (
                    child.kind != "list" and not isinstance(nxt, dict)):
                if child.kind == "list":
                    raise ConfigError(f"{here!r} has no items to index", file=where, field=path)
                nxt = {}
                node[key] = nxt
            node, schema = nxt, child
    return out


def _drop_foreign_keys(section: dict[str, Any], schema: SchemaNode) -> None:
    member = schema.section(section)
    if member is None:
        return
    for k in [k for k in section if k not in member.model_fields]:
        del section[k]


# ----------------------------------------------------------------------------- validation
def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else ("." if parts else "") + str(item))
    return "".join(parts)


def _walk_loc(model: type[BaseModel], data: Any, loc: tuple[Any, ...]) -> tuple[str, SchemaNode | None, Any]:
    """Follow a pydantic error location through the schema: (readable path, schema of the last container,
    data of the last container). Union tags that pydantic inserts into the location are skipped."""
    schema: SchemaNode | None = SchemaNode("model", model=model)
    node = data
    parts: list[Any] = []
    for i, item in enumerate(loc):
        if schema is None:
            parts.append(item)
            continue
        if schema.kind == "union" and isinstance(item, str):
            member = schema.members.get(item) or next(
                (m for m in schema.members.values() if m.__name__ == item), None)
            if member is not None:  # pydantic puts the selected member's tag (or class name) into the location
                schema = SchemaNode("model", model=member)
                continue
        parts.append(item)
        if i == len(loc) - 1:
            break
        nxt_schema = _child(schema, node, item) if schema.kind != "list" else schema.item
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
        schema = nxt_schema
    return _loc(tuple(parts)), schema, node


def _blame(field: str | None, overrides: list[tuple[str, Any]]) -> str | None:
    """``--set path=value`` of the last override that set ``field``, one of its parents or children."""
    if not field:
        return None
    norm = field.replace("[", ".").replace("]", "")
    for ov in reversed(overrides):
        path, value = ov
        if norm == path or norm.startswith(path + ".") or path.startswith(norm + "."):
            return format_override(path, value, ov)
    return None


def validate(model: type[M], data: dict[str, Any], *, file: str | None,
             overrides: list[tuple[str, Any]] | None = None) -> M:
    """Validate a mapping; the first error becomes a one-line ConfigError with its field path (blamed on
    ``--set path=value`` when an override set that field)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field, parent, pdata = _walk_loc(model, data, tuple(err["loc"]))
        msg, allowed = err["msg"], None
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1]) if err["loc"] else ""
            options = parent.keys(pdata) if parent is not None else []
            msg = f"unknown key{_suggest(key, options)}"
            allowed = _allowed(options) or None
        elif err["type"] not in ("missing",) and not isinstance(err.get("input"), (dict, list)):
            msg = f"{msg} (got {short_repr(err.get('input'), 50)})"
        more = exc.error_count() - 1
        if more:
            msg += f" [+{more} more error{'s' if more > 1 else ''}]"
        where = _blame(field, overrides or []) or file
        raise ConfigError(msg, file=where, field=field or None, allowed=allowed) from None
    except RecursionError:
        raise ConfigError("nested too deeply to validate", file=file) from None


# ----------------------------------------------------------------------------- kind detection
_KIND = {ArchSpec: ("an architecture", "first"), WorkloadSpec: ("a workload", "second")}


def _wrong_kind(model: type[BaseModel], data: dict[str, Any], file: str) -> None:
    """Refuse a workload given where an arch belongs (or the reverse) with a message that says so."""
    other = WorkloadSpec if model is ArchSpec else ArchSpec if model is WorkloadSpec else None
    if other is None:
        return
    mine = set(model.model_fields) - {"name"}
    theirs = set(other.model_fields) - {"name"}
    foreign = [k for k in data if k in theirs and k not in mine]
    if foreign and not any(k in mine for k in data):
        what, pos = _KIND[other]
        raise ConfigError(f"looks like {what} file (has {', '.join(sorted(foreign)[:3])}); give it as the {pos} "
                          f"argument", file=file, allowed=f"{_KIND[model][0]} file with "
                          + _allowed(list(mine), 80))


def _load(model: type[M], path: str | Path | None, overrides: list[tuple[str, Any]] | None) -> M:
    file = str(path) if path is not None else None
    data = read_yaml(path) if path is not None else {}
    if file is not None:
        _wrong_kind(model, data, file)
    if overrides:
        data = apply_overrides(data, overrides, model)
    return validate(model, data, file=file, overrides=overrides)


def load_arch(path: str | Path | None, overrides: list[tuple[str, Any]] | None = None) -> ArchSpec:
    """Read and validate an architecture YAML (None: all defaults)."""
    return _load(ArchSpec, path, overrides)


def load_workload(path: str | Path, overrides: list[tuple[str, Any]] | None = None) -> WorkloadSpec:
    """Read and validate a workload YAML."""
    return _load(WorkloadSpec, path, overrides)


