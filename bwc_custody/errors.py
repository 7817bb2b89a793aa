"""Domain errors: each a type with a stable code and HTTP status, rendered by one handler."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class BwcError(Exception):
    """Base of every error a user may see: `code` is stable, `message` is for people."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: {"error": {"code", "message", "details"}}."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotFound(BwcError):
    code = "not_found"
    status = 404


class InvalidInput(BwcError):
    code = "invalid_input"
    status = 422


class Unauthenticated(BwcError):
    code = "unauthenticated"
    status = 401


class Forbidden(BwcError):
    code = "forbidden"
    status = 403


class Conflict(BwcError):
    code = "conflict"
    status = 409


class MalformedBody(BwcError):
    """The request body cannot be read as what the route takes (not JSON, not UTF-8, a broken
    form)."""

    code = "malformed_body"
    status = 400


class BodyTooLarge(BwcError):
    """The request body is larger than the route takes (its limit is in `details`)."""

    code = "body_too_large"
    status = 413


class MethodNotAllowed(BwcError):
    """The path exists, but not with this method (`details.allowed` lists those it has)."""

    code = "method_not_allowed"
    status = 405


class DatabaseNotMigrated(BwcError):
    code = "database_not_migrated"
    status = 503


class StorageUnavailable(BwcError):
    code = "storage_unavailable"
    status = 503


def problems_of(errors: Iterable[Any]) -> list[dict[str, str]]:
    """Pydantic's (or FastAPI's) validation errors as `{"at", "problem"}` pairs, the shape
    every invalid-input error carries in its details."""
    return [{"at": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in errors]


def validated(model: type[M], data: Any, *, error: type[BwcError] | None = None,
              what: str = "") -> M:
    """`data` as `model`, or `error` (InvalidInput) naming the first problem, all of them in
    details: for input checked outside a FastAPI route (the CLI, console forms, files)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc.errors())
        first = f"{problems[0]['at']}: {problems[0]['problem']}"
        raise (error or InvalidInput)(f"{what}: {first}" if what else first,
                                      problems=problems) from None
