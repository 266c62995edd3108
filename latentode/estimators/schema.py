"""The schema of a saved model's ``config.json``: field types and size limits, checked on
load before anything is built, with a :class:`ModelFileError` naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

__all__ = ["ModelFileError", "Field", "check_fields", "check_module_sizes", "MAX_SIZE", "MAX_DEPTH"]

#: the largest layer, state or count a saved model may ask for (refused before allocation)
MAX_SIZE = 100_000
#: the most hidden layers a saved model may ask for
MAX_DEPTH = 100
#: module hyperparameters that size a tensor
SIZE_KEYS = (
    "input_dim",
    "latent_dim",
    "enc_hidden",
    "hidden_dim",
    "units",
    "n_marks",
    "n_labels",
    "n_samples",
)


class ModelFileError(ValueError):
    """A saved model directory is missing, truncated, tampered with or of another kind."""


class Field:
    """One field of the fitted state: its JSON types and whether it may be absent."""

    def __init__(self, *types: type | None, required: bool = True) -> None:
        self.types = tuple(type(None) if t is None else t for t in types)
        self.required = required

    def allows(self, value: Any) -> bool:
        if isinstance(value, bool) and bool not in self.types:
            return False  # JSON true/false is not a number here
        return isinstance(value, self.types)

    def describe(self) -> str:
        names = {type(None): "null", Integral: "integer", Real: "number", str: "string"}
        names.update({list: "list", dict: "object", bool: "boolean"})
        return " or ".join(names.get(t, t.__name__) for t in self.types)


def check_fields(values: Any, schema: Mapping[str, Field], where: str, source: str) -> None:
    """Every field of ``schema`` present (unless optional) with an allowed type; a
    :class:`ModelFileError` naming ``where.field`` and the file ``source`` otherwise."""
    if not isinstance(values, dict):
        raise ModelFileError(f"{source}: {where} must be a JSON object, got {values!r:.80}.")
    for name, spec in schema.items():
        if name not in values:
            if spec.required:
                raise ModelFileError(
                    f"{source}: field {where}.{name} is missing; the file is damaged or "
                    "was not written by latentode. Save the model again."
                )
            continue
        if not spec.allows(values[name]):
            raise ModelFileError(
                f"{source}: field {where}.{name} must be {spec.describe()}, got "
                f"{values[name]!r:.80}."
            )


def check_module_sizes(hparams: dict, source: str) -> None:
    """Refuse sizes no real model has (before any tensor is allocated)."""
    for key in SIZE_KEYS:
        value = hparams.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, Integral)
            or not (0 <= value <= MAX_SIZE)
        ):
            raise ModelFileError(
                f"{source}: field fitted.module_hparams.{key} must be an integer in "
                f"[0, {MAX_SIZE}], got {value!r:.80}."
            )
    depth = hparams.get("depth")
    if depth is not None and (
        isinstance(depth, bool) or not isinstance(depth, Integral) or not 0 <= depth <= MAX_DEPTH
    ):
        raise ModelFileError(
            f"{source}: field fitted.module_hparams.depth must be an integer in "
            f"[0, {MAX_DEPTH}], got {depth!r:.80}."
        )
