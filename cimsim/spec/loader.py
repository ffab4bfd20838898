"""YAML → validated spec, with ``--set dotted.path=value`` overrides and one-line errors.

Overrides are applied to the raw mapping before validation, so an override is checked exactly like a
value in the file; a path the schema does not know is rejected by name before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cimsim.errors import ConfigError
from cimsim.spec.arch import ArchSpec
from cimsim.spec.sections import ComponentSection
from cimsim.spec.workload import WorkloadSpec

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file (``yaml.safe_load``: no object construction)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("file not found", file=str(path))
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path), field=where) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys", file=str(path))
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b.c=value"`` → ``("a.b.c", value)``; the value is parsed as YAML (numbers, bools, lists)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r} is not of the form dotted.path=value", field=text)
    path, raw = text.split("=", 1)
    path = path.strip()
    if not path:
        raise ConfigError(f"--set {text!r} names no field", field=text)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return path, value


def _schema_child(model: type[BaseModel] | None, key: str, node: dict[str, Any] | None = None
                  ) -> type[BaseModel] | None | bool:
    """The sub-model a key leads to, None for a leaf, False for an unknown key. A component section leads to
    the parameter class of the model ``node[key]['model']`` names (else the section's default model)."""
    if model is None:
        return None
    field = model.model_fields.get(key)
    if field is None:
        return False
    for meta in field.metadata:
        if isinstance(meta, ComponentSection):
            sub = (node or {}).get(key)
            named = sub.get("model") if isinstance(sub, dict) else None
            try:
                return meta.params_class(named if isinstance(named, str) else None)
            except ValueError:
                return None  # an unknown model: validation names it
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    return None


def apply_overrides(data: dict[str, Any], overrides: list[tuple[str, Any]], model: type[BaseModel],
                    *, source: str = "--set") -> dict[str, Any]:
    """Set each dotted path in a copy of ``data``; unknown paths are a ConfigError naming them."""
    import copy

    out = copy.deepcopy(data)
    # a section's model first, so the fields set beside it are checked against the model they belong to
    overrides = sorted(overrides, key=lambda o: not o[0].endswith(".model"))
    for path, value in overrides:
        keys = path.split(".")
        node: dict[str, Any] = out
        sub: type[BaseModel] | None = model
        for i, key in enumerate(keys):
            child = _schema_child(sub, key, node)
            is_last = i == len(keys) - 1
            if child is False and is_last and value is None and _in_component_section(model, keys):
                node.pop(key, None)  # null for a field the section's model does not have: "not set"
                break
            if child is False and not (sub is None and isinstance(node, dict)):
                allowed = ", ".join(sorted(sub.model_fields)) if sub is not None else None
                raise ConfigError(f"unknown field {path!r}", file=source, field=".".join(keys[: i + 1]),
                                  allowed=allowed)
            if is_last:
                node[key] = value
                if key == "model" and i > 0:
                    _keep_fields_of_model(model, keys[:-1], node)
            else:
                nxt = node.get(key)
                if not isinstance(nxt, dict):
                    if child is None and sub is not None:
                        raise ConfigError(f"{'.'.join(keys[: i + 1])!r} is a value, not a section",
                                          file=source, field=path)
                    nxt = {}
                    node[key] = nxt
                node = nxt
                sub = child if isinstance(child, type) else None
    return out


def _in_component_section(root: type[BaseModel], keys: list[str]) -> bool:
    """Whether ``keys[:-1]`` names a component section (whose fields depend on its model)."""
    if len(keys) < 2:
        return False
    sub: type[BaseModel] | None = root
    for key in keys[:-2]:
        child = _schema_child(sub, key)
        sub = child if isinstance(child, type) else None
    field = sub.model_fields.get(keys[-2]) if sub is not None else None
    return field is not None and any(isinstance(m, ComponentSection) for m in field.metadata)


def _keep_fields_of_model(root: type[BaseModel], section_path: list[str], section: dict[str, Any]) -> None:
    """After ``--set section.model=X``, drop the section's keys model X does not take: they belonged to the
    model it replaces (e.g. an MLSA's ``levels`` when the sweep switches to a SAR ADC)."""
    sub: type[BaseModel] | None = root
    for key in section_path[:-1]:
        child = _schema_child(sub, key)
        sub = child if isinstance(child, type) else None
    field = sub.model_fields.get(section_path[-1]) if sub is not None else None
    meta = next((m for m in (field.metadata if field else ()) if isinstance(m, ComponentSection)), None)
    if meta is None:
        return
    try:
        cls = meta.params_class(section.get("model"))
    except ValueError:
        return  # unknown model: validation names it
    for k in [k for k in section if k not in cls.model_fields]:
        del section[k]


def _loc(loc: tuple[Any, ...]) -> str:
    # pydantic puts the union member tag in the location (e.g. 'linear'); keep indices and field names.
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def validate(model: type[M], data: dict[str, Any], *, file: str | None) -> M:
    """Validate a mapping; the first error becomes a one-line ConfigError with its field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = _loc(err["loc"]) or None
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err.get("input") is not None and err["type"] not in ("missing",) and not isinstance(err["input"], dict):
            msg = f"{msg} (got {err['input']!r})"
        more = exc.error_count() - 1
        if more:
            msg += f" [+{more} more error{'s' if more > 1 else ''}]"
        raise ConfigError(msg, file=file, field=field) from None


def _load(model: type[M], path: str | Path | None, overrides: list[tuple[str, Any]] | None) -> M:
    data = read_yaml(path) if path is not None else {}
    if overrides:
        data = apply_overrides(data, overrides, model)
    return validate(model, data, file=str(path) if path is not None else None)


def load_arch(path: str | Path | None, overrides: list[tuple[str, Any]] | None = None) -> ArchSpec:
    """Read and validate an architecture YAML (None: all defaults)."""
    return _load(ArchSpec, path, overrides)


def load_workload(path: str | Path, overrides: list[tuple[str, Any]] | None = None) -> WorkloadSpec:
    """Read and validate a workload YAML."""
    return _load(WorkloadSpec, path, overrides)
