"""A component's YAML section as a pydantic type: a union over the registered models, tagged by ``model``.

``column_periphery: {model: neurosim_sar, bits: 5}`` is validated by the ``Params`` class of the
``neurosim_sar`` component, so an MLSA section never carries SAR knobs and a model added by defining one
component class (anywhere, a test included) is usable from YAML with no other file changed. The union is
looked up at validation time (not frozen when this module is imported), so errors keep their field paths
(``column_periphery.bits``) and ``cimsim schema arch`` lists every registered model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from cimsim.spec.common import Spec


def _registry():
    # The registry lives with the components (they own their parameter classes); imported lazily because
    # components import spec.common, and this module is imported by spec.arch.
    from cimsim.components import base

    return base


class ComponentSection:
    """Annotated metadata: ``Annotated[Spec, ComponentSection("column_periphery", "mlsa")]``.

    Args:
        kind: the component kind whose models the section may name.
        default_model: the model of a section that names none.
        defaults: this slot's own defaults (e.g. the global buffer's size), applied under the YAML's values
            when the section's model accepts them.
    """

    def __init__(self, kind: str, default_model: str, defaults: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.default_model = default_model
        self.defaults = dict(defaults or {})

    def params_class(self, model: str | None) -> type[Spec]:
        """Parameter class of ``model`` (None: the default model). ValueError names the allowed models."""
        return _registry().params_class(self.kind, model or self.default_model)

    def default(self) -> Spec:
        """The section with every default (the default model)."""
        return self._validate({})

    def _validate(self, value: Any) -> Spec:
        if isinstance(value, BaseModel):
            cls = self.params_class(getattr(value, "model", None))
            if isinstance(value, cls):
                return value
            value = value.model_dump()
        if not isinstance(value, dict):
            raise ValueError(f"a {self.kind} section must be a mapping with a 'model' key")
        model = value.get("model", self.default_model)
        try:
            cls = self.params_class(model if isinstance(model, str) else repr(model))
        except ValueError:
            reg = _registry()
            allowed = ", ".join(reg.model_names(self.kind, selectable=True))
            err = PydanticCustomError("unknown_model", "unknown {kind} model {model} (allowed: {allowed})",
                                      {"kind": self.kind, "model": repr(model), "allowed": allowed})
            # raised as a nested ValidationError so the error's location is `<section>.model`
            raise ValidationError.from_exception_data(
                self.kind, [InitErrorDetails(type=err, loc=("model",), input=model)]) from None
        slot = {k: v for k, v in self.defaults.items() if k in cls.model_fields}
        return cls.model_validate({**slot, **value})

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v, info: v.model_dump(mode=info.mode), info_arg=True))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        reg = _registry()
        members = [handler(reg.params_class(self.kind, m).__pydantic_core_schema__)
                   for m in reg.model_names(self.kind, selectable=True)]
        return {"oneOf": members, "discriminator": {"propertyName": "model"},
                "description": f"{self.kind} model and its parameters (default model: {self.default_model})"}
