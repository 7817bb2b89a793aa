"""Each route's error answers in the OpenAPI schema, read from the code that runs it.

A route's documented errors are the `BwcError` classes raised (`raise X(...)`) in its
endpoint, its dependencies and every function of ours they call, found by reading their
source once when the schema is first built: the schema says what the code does, and stays
true as the code changes, with no list to keep by hand. Refusals of access (401, 403) come
from the roles a route declares (`deps.allow`); malformed input (422 `invalid_input`) is
possible on every route that takes any; a route with a body may also answer `body_too_large`
(413, over the limit `x-body-limit` names: `guard.BodyGuard`) and `malformed_body` (400, not
JSON or not a readable form). An error raised through a variable (`raise err`) or
inside a library's code is not seen: the schema may list fewer codes than can occur, never
a code that cannot.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from bwc_custody.errors import (
    BodyTooLarge,
    BwcError,
    Forbidden,
    InvalidInput,
    MalformedBody,
    Unauthenticated,
)

_OURS = ("bwc_custody", "policies", "review", "storage", "redaction")
_MAX_DEPTH = 12


class ErrorDetail(BaseModel):
    """What went wrong: a stable `code`, a `message` for people, and `details`."""

    code: str
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    """Every refusal has this shape."""

    error: ErrorDetail


def _namespace(fn: types.FunctionType) -> dict[str, Any]:
    module = inspect.getmodule(fn)
    names = dict(vars(module)) if module else {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            names[name] = cell.cell_contents
        except ValueError:  # a closure variable not yet bound
            continue
    return names


def _resolve(node: ast.AST, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, names)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _ours(obj: Any) -> bool:
    return (isinstance(obj, types.FunctionType)
            and (obj.__module__ or "").startswith(_OURS))


def _is_error(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BwcError)


class _Reader:
    """Reads functions' sources once each, following calls into our own code."""

    def __init__(self) -> None:
        self.found: dict[types.CodeType, frozenset[type[BwcError]]] = {}

    def raised_by(self, fn: Callable[..., Any], depth: int = 0,
                  seen: frozenset[types.CodeType] = frozenset()) -> frozenset[type[BwcError]]:
        fn = inspect.unwrap(fn)
        if not isinstance(fn, types.FunctionType):
            return frozenset()
        code = fn.__code__
        if code in self.found:
            return self.found[code]
        if code in seen or depth > _MAX_DEPTH:
            return frozenset()
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError):
            return frozenset()
        names = _namespace(fn)
        errors: set[type[BwcError]] = set()
        defined = tree.body[0]
        body = defined.body if isinstance(defined, ast.FunctionDef | ast.AsyncFunctionDef) else []
        # the body only: a decorator (a route's declared dependencies) is not the function
        for node in (n for stmt in body for n in ast.walk(stmt)):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                raised = _resolve(target, names)
                if _is_error(raised):
                    errors.add(raised)
            elif isinstance(node, ast.Call):
                # the function called, and any of ours passed to it (a callback, a thread's
                # target): both run on the route's behalf
                for part in (node.func, *node.args, *(k.value for k in node.keywords)):
                    called = _resolve(part, names)
                    if _ours(called):
                        errors |= self.raised_by(called, depth + 1, seen | {code})
        self.found[code] = frozenset(errors)
        return self.found[code]


def _responses(errors: set[type[BwcError]]) -> dict[str, dict[str, Any]]:
    by_status: dict[int, set[str]] = {}
    for error in errors:
        by_status.setdefault(error.status, set()).add(error.code)
    return {str(status): {
        "description": "Refused: " + ", ".join(f"`{c}`" for c in sorted(codes)),
        "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/ErrorResponse"}}}}
        for status, codes in sorted(by_status.items())}


def route_errors(app: FastAPI, roles_of: Callable[[Any], list[frozenset[str]]]
                 ) -> dict[tuple[str, str], set[type[BwcError]]]:
    """The errors each (METHOD, path) of the app may answer with (see the module's doc)."""
    reader = _Reader()
    found: dict[tuple[str, str], set[type[BwcError]]] = {}
    for route in app.routes:
        contexts = (route.effective_route_contexts()
                    if hasattr(route, "effective_route_contexts") else [])
        for ctx in contexts:
            if not ctx.include_in_schema:
                continue
            errors = set(reader.raised_by(ctx.endpoint))
            for dep in ctx.dependant.dependencies:
                if dep.call is not None:
                    errors |= reader.raised_by(dep.call)
            errors -= {Unauthenticated, Forbidden}  # from the declared roles instead
            rules = roles_of(ctx.dependant)
            if rules and not any("public" in r for r in rules):
                errors |= {Unauthenticated, Forbidden}
            if (ctx.dependant.path_params or ctx.dependant.query_params
                    or ctx.body_field is not None):
                errors.add(InvalidInput)
            if ctx.body_field is not None:
                errors |= {BodyTooLarge, MalformedBody}
            for method in ctx.methods or ():
                found[(method.upper(), ctx.path_format)] = errors
    return found


def document_errors(app: FastAPI, roles_of: Callable[[Any], list[frozenset[str]]],
                    default_body_limit: int) -> None:
    """Build the app's OpenAPI schema (lazily, once) with each route's error answers in
    place of FastAPI's generic validation error, and the body limit (`x-body-limit`) of each
    route that takes a body where the route does not name its own; `roles_of(dependant)`
    gives the role sets a route's dependencies declare."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, summary=app.summary,
                               description=app.description, routes=app.routes)
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            body = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components["ErrorResponse"] = body
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)  # never sent: invalid input is `invalid_input`
            for (method, path), errors in route_errors(app, roles_of).items():
                operation = spec["paths"].get(path, {}).get(method.lower())
                if operation is not None:
                    operation["responses"].pop("422", None)
                    operation["responses"].update(_responses(errors))
                    if "requestBody" in operation:
                        operation.setdefault("x-body-limit", default_body_limit)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
