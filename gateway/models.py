"""Request and response bodies of the HTTP API, in Segment's spec shape (camelCase on the wire).

Every field Segment's SDKs send is declared (``type``, ``userId``, ``anonymousId``,
``messageId``, ``timestamp``, ``sentAt``, ``originalTimestamp``, ``context``,
``integrations``, ``traits``, ``properties``, ``groupId``, ``previousId``, ``name``,
``category``, ``event``); unknown extra fields (``_metadata``, ``channel``, ...) are accepted
and ignored, so apps keep their SDKs unchanged. ``null`` means "absent" everywhere, as the
SDKs send it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, ValidationError
from typing_extensions import TypeAliasType

from store.storable import find_unstorable, has_unstorable

# Column sizes of the store: longer values are refused here, with the field named, rather than
# failing in the database with a 500.
ID_MAX = 255
NAME_MAX = 255
# Anonymous profiles are keyed ``anon:<anonymousId>`` in the same 255-character column.
ANONYMOUS_ID_MAX = 200
FREE_TEXT = 255


class _Body(BaseModel):
    # No whitespace stripping: what is stored is what was sent, and the OpenAPI document can
    # say exactly what is accepted (schemathesis holds it to that). Fields are read by their
    # Segment (camelCase) names only: with names allowed too, an extra ``message_id`` beside a
    # valid body would be read as the field and could refuse a call the schema accepts.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="ignore")


# At least one character that is not blank: an id or an event name of spaces means nothing.
NOT_BLANK = r"[^ \t\n\r]"
# No string of a call may hold U+0000, which PostgreSQL cannot store (store/storable.py finds
# it, naming the field). Said in the OpenAPI document only: the validator gives the reason.
NO_NUL = r"^[^\u0000]*$"
NOT_BLANK_NO_NUL = r"^[^\u0000]*[^ \t\n\r\u0000][^\u0000]*$"
# Numeric ids are the same user as their string form; bounded so their text fits the column.
NUMERIC_ID_MAX = 10**15
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")


def _none_is_empty(value: Any) -> Any:
    # SDKs send ``"traits": null`` or ``"context": null``: it means "none", not a malformed call.
    return {} if value is None else value


def _numeric_id(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("id_type", "an id must be a string or a number")
    if isinstance(value, int | float):
        if not abs(value) <= NUMERIC_ID_MAX:
            raise PydanticCustomError("id_range", "a numeric id must be at most 10^15")
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _iso_time(value: Any) -> Any:
    """An ISO 8601 date-time string as an aware UTC datetime; far years clamp, never fail."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise PydanticCustomError(
            "date_time", "expected an ISO 8601 date-time string, e.g. 2026-01-02T03:04:05Z"
        )
    text = value.upper().replace(":60", ":59", 1) if ":60" in value else value.upper()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PydanticCustomError(
            "date_time", "not a valid date-time: {error}", {"error": str(exc)}
        ) from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past year 9999 in UTC: keep the edge
        return (datetime.max if parsed.year > 5000 else datetime.min).replace(tzinfo=UTC)


def _id_schema(max_length: int) -> WithJsonSchema:
    text = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NOT_BLANK_NO_NUL}
    number = {"type": "number", "minimum": -NUMERIC_ID_MAX, "maximum": NUMERIC_ID_MAX}
    return WithJsonSchema({"anyOf": [text, number]})


# Spelled out (not built by a function) so type checkers see them as aliases of ``str``.
Id = Annotated[
    str,
    BeforeValidator(_numeric_id),
    Field(min_length=1, max_length=ID_MAX, pattern=NOT_BLANK),
    _id_schema(ID_MAX),
]
AnonymousId = Annotated[
    str,
    BeforeValidator(_numeric_id),
    Field(min_length=1, max_length=ANONYMOUS_ID_MAX, pattern=NOT_BLANK),
    _id_schema(ANONYMOUS_ID_MAX),
]
When = Annotated[
    datetime | None,
    BeforeValidator(_iso_time),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}),
    Field(description="ISO 8601; naive values are UTC."),
]

# For the document only (validation takes any JSON object, then refuses a NUL with its path):
# any JSON value whose strings, keys included, hold no U+0000, at any depth.
JsonString = TypeAliasType(
    "JsonString",
    Annotated[str, Field(pattern=NO_NUL, description="Any string without U+0000 (NUL).")],
)
JsonValue = TypeAliasType(
    "JsonValue",
    # A string, so that type checkers resolve the recursion too.
    "JsonString | float | bool | None | list[JsonValue] | dict[JsonString, JsonValue]",
)
_JSON_OBJECT = TypeAdapter(dict[JsonString, JsonValue]).core_schema


class _JsonObjectDoc:
    """Documents a free-form object as an object of :data:`JsonValue` (or null)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, _schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [handler(_JSON_OBJECT), {"type": "null"}]}


JsonObject = Annotated[dict[str, Any], BeforeValidator(_none_is_empty), _JsonObjectDoc]
Text = Annotated[
    str | None,
    Field(max_length=FREE_TEXT),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "maxLength": FREE_TEXT, "pattern": NO_NUL}, {"type": "null"}]}
    ),
]


def _present(field: str) -> dict[str, Any]:
    return {"required": [field], "properties": {field: {"not": {"type": "null"}}}}


class Storable(BaseModel):
    """A body the store can hold all of: no string or key with U+0000 or a lone surrogate, no
    NaN or Infinity, no nesting past ``store.storable.DEPTH_MAX`` levels (``store/storable.py`` says
    what each would do).

    Refused on both backends, as a 422 naming the field (``traits.firstName``,
    ``properties.items[0].name``, in a nested model ``subscription.endpoint``); in a batch,
    the item is refused and the others stored. The path is one element of the location, so no
    key of it reads as a batch item's type.
    """

    @model_validator(mode="after")
    def _storable(self) -> Self:
        if not has_unstorable(list(self.__dict__.values())):
            return self
        for name, info in type(self).model_fields.items():
            found = find_unstorable(getattr(self, name), info.alias or name)
            if found is not None:
                field, reason = found
                error = PydanticCustomError("unstorable_value", reason)
                # ``input`` left out: the value may be personal data.
                details = InitErrorDetails(type=error, loc=(field,), input=None)
                raise ValidationError.from_exception_data(type(self).__name__, [details])
        return self


class Call(_Body, Storable):
    """Fields every call shares. A call needs a ``userId`` or an ``anonymousId``."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [_present("userId"), _present("anonymousId")]}
    )

    user_id: Id | None = Field(default=None, examples=["u-123"])
    anonymous_id: AnonymousId | None = Field(
        default=None,
        description="A visitor not signed in yet: stored against an anonymous profile until "
        "an identify or alias links it to a userId, which then takes over its history.",
    )
    message_id: Annotated[
        str | None,
        Field(min_length=1, max_length=ID_MAX),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": ID_MAX, "pattern": NO_NUL},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(
        default=None,
        description="Idempotency key; a repeated messageId is stored and routed once. "
        "Generated (uuid4) when missing.",
    )
    timestamp: When = Field(
        default=None,
        description="When it happened. Corrected for the client's clock with sentAt; one "
        "still in the future is replaced by the receive time. Defaults to the receive time.",
    )
    original_timestamp: When = None
    sent_at: When = Field(default=None, description="When the client sent it (clock skew).")
    context: JsonObject = Field(default_factory=dict)
    integrations: JsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _someone(self) -> Call:
        if self.user_id is None and self.anonymous_id is None and not isinstance(self, Alias):
            # Its own error type, so the answer can name ``userId`` (the model has no location).
            raise PydanticCustomError("identity_missing", "userId or anonymousId is required")
        return self


class _Traits(Call):
    traits: JsonObject = Field(
        default_factory=dict, examples=[{"email": "ada@example.com", "firstName": "Ada"}]
    )


class _Properties(Call):
    properties: JsonObject = Field(default_factory=dict, examples=[{"plan": "free"}])


class Identify(_Traits):
    """Segment's identify: who the user is and what we know about them."""

    type: Literal["identify"] = "identify"


class Track(_Properties):
    """Segment's track: something the user did."""

    type: Literal["track"] = "track"
    event: str = Field(
        min_length=1,
        max_length=NAME_MAX,
        pattern=NOT_BLANK,
        examples=["Signed Up"],
        json_schema_extra={"pattern": NOT_BLANK_NO_NUL},  # the document's: no NUL either
    )


class Page(_Properties):
    """Segment's page: stored as a ``Page Viewed`` event (``name``/``category`` in properties)."""

    type: Literal["page"] = "page"
    name: Text = None
    category: Text = None


class Screen(_Properties):
    """Segment's screen: stored as a ``Screen Viewed`` event, like page."""

    type: Literal["screen"] = "screen"
    name: Text = None
    category: Text = None


class Group(_Traits):
    """Segment's group: the user's account; sets the ``groupId`` and ``group`` traits."""

    type: Literal["group"] = "group"
    group_id: Id


class Alias(Call):
    """Segment's alias: ``previousId`` (usually an anonymous id) is the same person as userId."""

    type: Literal["alias"] = "alias"
    user_id: Id
    previous_id: Id


AnyCall = Identify | Track | Page | Screen | Group | Alias
CALL_REFS = [
    {"$ref": f"#/components/schemas/{model.__name__}"}
    for model in (Identify, Track, Page, Screen, Group, Alias)
]
# Batch items carry their type; the union picks the model by it.
BatchItem = Annotated[AnyCall, Field(discriminator="type")]


class BatchRequest(_Body):
    """Several calls at once (Segment's ``/v1/batch`` and ``/v1/import``), for the docs.

    Items are validated one by one: valid ones are stored, the others listed in the answer
    (so any JSON value is an acceptable item here; the call schemas say what is stored).
    """

    batch: list[Annotated[Any, WithJsonSchema({"anyOf": [*CALL_REFS, {}]})]] = Field(min_length=1)
    sent_at: Any = Field(
        default=None,
        description="When the client sent the batch (ISO 8601), to correct the items' clock "
        "skew. A value that is not a time is ignored: the items' timestamps are used as given.",
    )
    context: Any = Field(default=None, description="Used by items that have none.")
    integrations: Any = None
    write_key: Any = Field(default=None, description="The write key, when not in a header.")


class BatchEnvelope(_Body):
    """A batch before its items are validated one by one (what makes it a batch at all)."""

    batch: list[Any] = Field(min_length=1)
    sent_at: When = None


class Accepted(BaseModel):
    """The answer to a stored call."""

    success: bool = True
    message_id: str = Field(serialization_alias="messageId")
    duplicate: bool = Field(
        default=False, description="True when this messageId had been stored before."
    )


class Refused(BaseModel):
    """A batch item that was not stored, and why."""

    index: int = Field(description="Position of the item in the batch, from 0.")
    field: str = Field(description="Dotted path inside the item (``event``, ``traits.email``).")
    reason: str
    message_id: str | None = Field(default=None, serialization_alias="messageId")


class BatchAccepted(BaseModel):
    """The answer to a batch: the stored calls in order, and the refused ones by index."""

    success: bool = True
    results: list[Accepted]
    refused: list[Refused] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """A refused request; ``field`` names what to fix (``traits.email``, ``authorization``)."""

    error: str = "invalid_request"
    code: str = "invalid_request"
    field: str | None = None
    message: str


class Health(BaseModel):
    """Liveness and the relay's view of Temporal."""

    status: Literal["ok", "degraded"] = "ok"
    store: Literal["ok", "unreachable"] = "ok"
    temporal: Literal["idle", "connected", "unreachable"] = "idle"
    relay_failures: int = 0


# Older names, kept for callers outside the gateway (tests, benches).
IdentifyRequest = Identify
TrackRequest = Track
