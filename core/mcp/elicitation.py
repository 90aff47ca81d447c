"""MCP elicitation forms: the requested schema read into fields, answers checked and completed.

A server asks the user for structured input with ``elicitation/create`` and a restricted
JSON schema: an object whose properties are primitives — ``string`` (``minLength``,
``maxLength``, ``format``), ``number`` / ``integer`` (``minimum``, ``maximum``),
``boolean``, single-choice enums (``enum`` with optional ``enumNames``, or ``oneOf`` of
``{const, title}``) and multi-choice arrays of such enums — each with an optional
``default``, plus a ``required`` list.

The workbench builds its form from :func:`parse_form`; whoever answers (a person, or the
unattended policy), the content sent back goes through :func:`complete_answer`: omitted
fields take their schema defaults (SEP-1034, the conformance scenario
``elicitation-sep1034-client-defaults``) and every value is checked against its field,
so a server never receives an answer its own schema rejects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FieldKind",
    "FormField",
    "Form",
    "parse_form",
    "schema_defaults",
    "complete_answer",
    "coerce_text",
    "ElicitationFormError",
]

FieldKind = Literal["string", "number", "integer", "boolean", "enum", "multi"]


class ElicitationFormError(ValueError):
    """An answer (or a schema) that does not fit; the message names the field."""


@dataclass(frozen=True)
class FormField:
    """One property of the requested schema.

    Attributes:
        name: the property name (the key in the answer).
        kind: how it is entered: text, a number, a switch, one choice or several.
        title / description: what the server says about it.
        required: listed in the schema's ``required``.
        default: the schema's default (``None`` when it has none; see ``has_default``).
        options: ``(value, label)`` pairs for ``enum`` and ``multi``.
    """

    name: str
    kind: FieldKind
    title: str = ""
    description: str = ""
    required: bool = False
    has_default: bool = False
    default: Any = None
    options: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    format: str | None = None

    @property
    def label(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class Form:
    """The fields of a requested schema, in the order the server listed them."""

    fields: tuple[FormField, ...] = field(default_factory=tuple)

    def field(self, name: str) -> FormField:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)


def _options(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...] | None:
    """``(value, label)`` choices of an enum-like schema, or None when it is not one."""
    if isinstance(spec.get("enum"), list):
        values = [str(v) for v in spec["enum"]]
        names = spec.get("enumNames")
        labels = [str(n) for n in names] if isinstance(names, list) and len(names) == len(values) else values
        return tuple(zip(values, labels))
    for key in ("oneOf", "anyOf"):
        choices = spec.get(key)
        if isinstance(choices, list) and choices and all(isinstance(c, Mapping) and "const" in c for c in choices):
            return tuple((str(c["const"]), str(c.get("title") or c["const"])) for c in choices)
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_form(schema: Mapping[str, Any]) -> Form:
    """The form a requested schema describes.

    Raises:
        ElicitationFormError: a property that is not one of the primitive kinds above.
    """
    properties = schema.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise ElicitationFormError("the requested schema's 'properties' is not an object")
    required = {str(name) for name in schema.get("required") or [] if isinstance(name, str)}
    fields: list[FormField] = []
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            raise ElicitationFormError(f"field {name!r} has no schema")
        kind: FieldKind
        options: tuple[tuple[str, str], ...] = ()
        declared = spec.get("type")
        found = _options(spec)
        if declared == "array":
            items = spec.get("items")
            found = _options(items) if isinstance(items, Mapping) else None
            if found is None:
                raise ElicitationFormError(f"field {name!r} is a list that is not a list of choices")
            kind, options = "multi", found
        elif found is not None:
            kind, options = "enum", found
        elif declared in ("string", "number", "integer", "boolean"):
            kind = declared
        else:
            raise ElicitationFormError(f"field {name!r} has type {declared!r}; forms take text, numbers, switches and choices")
        fields.append(
            FormField(
                name=str(name),
                kind=kind,
                title=str(spec.get("title") or ""),
                description=str(spec.get("description") or ""),
                required=name in required,
                has_default="default" in spec,
                default=spec.get("default"),
                options=options,
                minimum=_number(spec.get("minimum")),
                maximum=_number(spec.get("maximum")),
                min_length=_count(spec.get("minLength")),
                max_length=_count(spec.get("maxLength")),
                min_items=_count(spec.get("minItems")),
                max_items=_count(spec.get("maxItems")),
                format=spec.get("format") if isinstance(spec.get("format"), str) else None,
            )
        )
    return Form(tuple(fields))


def schema_defaults(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The defaults of an elicitation schema, or None if a required field has none."""
    properties = schema.get("properties") or {}
    data = {
        key: spec["default"] for key, spec in properties.items() if isinstance(spec, Mapping) and "default" in spec
    }
    if any(key not in data for key in schema.get("required") or []):
        return None
    return data


def _check(item: FormField, value: Any) -> Any:
    """``value`` if it fits ``item`` (an int for an integer field), else ElicitationFormError."""
    where = f"{item.label}: "
    if item.kind == "boolean":
        if not isinstance(value, bool):
            raise ElicitationFormError(where + "must be true or false")
        return value
    if item.kind in ("number", "integer"):
        number = _number(value)
        if number is None or not math.isfinite(number):
            raise ElicitationFormError(where + "must be a number")
        if item.kind == "integer":
            if not number.is_integer():
                raise ElicitationFormError(where + "must be a whole number")
            value = int(number)
        if item.minimum is not None and number < item.minimum:
            raise ElicitationFormError(where + f"must be at least {item.minimum:g}")
        if item.maximum is not None and number > item.maximum:
            raise ElicitationFormError(where + f"must be at most {item.maximum:g}")
        return value
    if item.kind == "multi":
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ElicitationFormError(where + "must be a list of choices")
        allowed = {v for v, _ in item.options}
        chosen = [str(v) for v in value]
        wrong = [v for v in chosen if v not in allowed]
        if wrong:
            raise ElicitationFormError(where + f"{', '.join(wrong)} is not one of the choices")
        if item.min_items is not None and len(chosen) < item.min_items:
            raise ElicitationFormError(where + f"choose at least {item.min_items}")
        if item.max_items is not None and len(chosen) > item.max_items:
            raise ElicitationFormError(where + f"choose at most {item.max_items}")
        return chosen
    if not isinstance(value, str):
        raise ElicitationFormError(where + "must be text")
    if item.kind == "enum":
        if value not in {v for v, _ in item.options}:
            raise ElicitationFormError(where + f"{value!r} is not one of the choices")
        return value
    if item.min_length is not None and len(value) < item.min_length:
        raise ElicitationFormError(where + f"needs at least {item.min_length} characters")
    if item.max_length is not None and len(value) > item.max_length:
        raise ElicitationFormError(where + f"takes at most {item.max_length} characters")
    return value


def complete_answer(schema: Mapping[str, Any], data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The content to send back for an accepted form.

    Fields the answer leaves out take their schema default (SEP-1034); every value is
    checked against its field; keys the schema does not name are dropped.

    Raises:
        ElicitationFormError: a required field has neither a value nor a default, or a
            value does not fit its field (the message names the field).
    """
    form = parse_form(schema)
    given = dict(data or {})
    content: dict[str, Any] = {}
    for item in form.fields:
        if item.name in given and given[item.name] is not None:
            content[item.name] = _check(item, given[item.name])
        elif item.has_default:
            content[item.name] = _check(item, item.default)
        elif item.required:
            raise ElicitationFormError(f"{item.label}: required, and the server gave no default")
    return content


def coerce_text(item: FormField, text: str) -> Any:
    """What a person typed into ``item``'s text box, as the field's type (None when empty).

    Raises:
        ElicitationFormError: not a number for a number field, and so on.
    """
    text = text.strip() if item.kind in ("number", "integer") else text
    if text == "":
        return None
    if item.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ElicitationFormError(f"{item.label}: {text!r} is not a whole number") from None
    if item.kind == "number":
        try:
            value = float(text)
        except ValueError:
            raise ElicitationFormError(f"{item.label}: {text!r} is not a number") from None
        return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    return text
