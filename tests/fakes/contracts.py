"""Check payloads against the vendors' published OpenAPI 3.0 specs in tests/contracts/.

`validate_twilio` / `validate_vapi` check a payload against one of the spec's component schemas,
`validate_twilio_response` / `validate_vapi_response` against what an operation answers (list
envelopes included). All raise `jsonschema.ValidationError` on a mismatch. `$ref`s resolve inside
the spec, `nullable: true` is honoured (OAS 3.0 semantics), and the date formats are checked.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml
from jsonschema import FormatChecker, ValidationError
from openapi_schema_validator import OAS30Validator, OAS31Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"
SPECS = {
    "twilio": CONTRACTS / "twilio" / "twilio_api_v2010.json",
    "vapi": CONTRACTS / "vapi" / "vapi_openapi.json",
    "openai": CONTRACTS / "openai" / "embeddings_openapi.json",  # OpenAPI 3.1
    "vonage_numbers": CONTRACTS / "vonage" / "numbers.yml",
    "vonage_sms": CONTRACTS / "vonage" / "sms.yml",
    "vonage_account": CONTRACTS / "vonage" / "account.yml",
    "bandwidth_numbers": CONTRACTS / "bandwidth" / "numbers.yml",
    "bandwidth_messaging": CONTRACTS / "bandwidth" / "messaging.yml",
}

_ISO_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _is_rfc2822(value: object) -> bool:
    """Twilio's dates, e.g. `Thu, 30 Jul 2015 23:19:04 +0000`."""
    if isinstance(value, str):
        datetime.strptime(value, "%a, %d %b %Y %H:%M:%S %z")
    return True


def _is_iso_date_time(value: object) -> bool:
    """RFC 3339 date-times, e.g. VAPI's `2024-01-31T12:00:00.000Z`."""
    if isinstance(value, str):
        if not _ISO_DATE_TIME.fullmatch(value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        datetime.fromisoformat(value)
    return True


_FORMATS = FormatChecker(formats=())
_FORMATS.checkers = dict(oas30_format_checker.checkers)
_FORMATS.checks("date-time-rfc-2822", raises=ValueError)(_is_rfc2822)
_FORMATS.checks("date-time", raises=ValueError)(_is_iso_date_time)


def validate_twilio(schema_name: str, payload: dict) -> None:
    """Check a Twilio resource, e.g. `validate_twilio("api.v2010.account.message", body)`.

    Twilio serialises every field of a resource, null or not (the spec's examples all do), so a
    property of the schema missing from the payload is a mismatch too.
    """
    _validator("twilio", f"/components/schemas/{schema_name}").validate(payload)
    properties = _spec("twilio")["components"]["schemas"][schema_name]["properties"]
    missing = sorted(properties.keys() - payload.keys())
    if missing:
        raise ValidationError(f"{schema_name} lacks properties Twilio always sends: {', '.join(missing)}")


def validate_vapi(schema_name: str, payload: Any) -> None:
    """Check a VAPI object, e.g. `validate_vapi("TwilioPhoneNumber", body)`."""
    _validator("vapi", f"/components/schemas/{schema_name}").validate(payload)


def validate_twilio_response(path: str, method: str, payload: Any, status: int = 200) -> None:
    """Check what an operation answered, e.g.
    `validate_twilio_response("/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json", "get", body)`."""
    _validator("twilio", _response_pointer(path, method, status)).validate(payload)


def validate_vapi_response(path: str, method: str, payload: Any, status: int = 200) -> None:
    """Check what an operation answered, e.g. `validate_vapi_response("/phone-number", "post", body, 201)`."""
    _validator("vapi", _response_pointer(path, method, status)).validate(payload)


def _response_pointer(path: str, method: str, status: int) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json/schema"


@cache
def _spec(vendor: str) -> dict:
    if SPECS[vendor].suffix == ".yml":
        return yaml.load(SPECS[vendor].read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return json.loads(SPECS[vendor].read_text())


@cache
def _registry(vendor: str) -> Registry:
    draft = DRAFT202012 if vendor == "openai" else DRAFT4
    return Registry().with_resource(f"urn:{vendor}", Resource.from_contents(_spec(vendor), draft))


@cache
def _validator(vendor: str, pointer: str) -> OAS30Validator | OAS31Validator:
    schema = {"$ref": f"urn:{vendor}#{pointer}"}
    validator = OAS31Validator if vendor == "openai" else OAS30Validator
    return validator(schema, registry=_registry(vendor), format_checker=_FORMATS)


def validate_openai(schema_name: str, payload: Any) -> None:
    """Check an embeddings request or answer, e.g. `validate_openai("CreateEmbeddingRequest", body)`."""
    _validator("openai", f"/components/schemas/{schema_name}").validate(payload)


def validate_vonage(api: str, schema_name: str, payload: Any) -> None:
    """Check a Vonage object, e.g. `validate_vonage("sms", "InboundMessage", params)`."""
    _validator(f"vonage_{api}", f"/components/schemas/{schema_name}").validate(payload)


def validate_vonage_response(api: str, path: str, method: str, payload: Any, status: int = 200) -> None:
    """Check what a Vonage operation answered, e.g.
    `validate_vonage_response("numbers", "/account/numbers", "get", body)`."""
    _validator(f"vonage_{api}", _response_pointer(path, method, status)).validate(payload)


def validate_vonage_request(api: str, path: str, method: str, params: dict) -> None:
    """Check a request's parameters (the form, or the query) against the operation's description:
    a form body against its schema (its values as the strings a form carries, typed as the schema
    says), query parameters against each parameter's schema, and nothing the operation does not
    describe. The credentials are part of every operation (security schemes or the schema itself)."""
    spec = _spec(f"vonage_{api}")
    operation = spec["paths"][path][method.lower()]
    body = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
    if body is not None:
        schema = _resolve(spec, body["schema"])
        if "api_key" in schema["properties"]:  # the fake records requests without their credentials
            params = {"api_key": "abcd1234", **params}
        typed = {name: _typed(spec, schema["properties"].get(name, {}), value) for name, value in params.items()}
        unknown = sorted(set(params) - set(schema["properties"]) - {"api_secret"})
        if unknown:
            raise ValidationError(f"{path} takes no {', '.join(unknown)}")
        _validator(f"vonage_{api}", _pointer_of(body["schema"])).validate(typed)
        return
    described = {}
    for parameter in operation.get("parameters", []):
        parameter = _resolve(spec, parameter)
        described[parameter["name"]] = _resolve(spec, parameter["schema"])
    unknown = sorted(set(params) - set(described) - {"api_key", "api_secret"})
    if unknown:
        raise ValidationError(f"{path} takes no {', '.join(unknown)}")
    for name, value in params.items():
        if name in described:
            OAS30Validator(described[name], format_checker=_FORMATS).validate(_typed(spec, described[name], value))


def _pointer_of(ref: dict) -> str:
    return ref["$ref"].removeprefix("#")


def _resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _typed(spec: dict, schema: dict, value: Any) -> Any:
    """A form's string as the type its schema gives it (a form carries only strings)."""
    kind = _resolve(spec, schema).get("type") if schema else None
    if not isinstance(value, str):
        return value
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return {"true": True, "false": False, "1": True, "0": False}.get(value.lower(), value)
    return value


def validate_bandwidth(schema_name: str, payload: Any) -> None:
    """Check a Messaging API object (JSON), e.g. `validate_bandwidth("messageRequest", body)`."""
    _validator("bandwidth_messaging", f"/components/schemas/{schema_name}").validate(payload)


def check_bandwidth_xml(path: str, method: str, document: bytes, *, status: int | None = None) -> None:
    """Check an account-API XML document (a request's body, or the answer with `status`) against the
    operation's schema in contracts/bandwidth/numbers.yml: the root element is the one the schema
    names, and every element inside is one of the names the schema (and what it refers to) declares.

    Names, not shapes: that contract's XML schemas nest wrappers the wire format does not have (its
    `TelephoneNumbers` holds a `TelephoneNumbers` holding `TelephoneNumber` objects of a
    `TelephoneNumber` string), so a structural check would fail Bandwidth's own answers; its names
    are right, and a misspelt or invented element is what this catches."""
    spec = _spec("bandwidth_numbers")
    operation = spec["paths"][path][method.lower()]
    if status is None:
        content = operation["requestBody"]["content"]
    else:
        content = _resolve(spec, operation["responses"][str(status)]).get("content") or {}
    schema = (content.get("application/xml") or {}).get("schema")
    if schema is None:
        raise ValidationError(f"{method.upper()} {path} has no XML schema for {status or 'its request'}")
    root = ElementTree.fromstring(document)
    roots, names = _xml_vocabulary(spec, schema)
    if root.tag not in roots:
        raise ValidationError(f"{method.upper()} {path}: the root element is {root.tag}, not one of {sorted(roots)}")
    unknown = sorted({element.tag for element in root.iter()} - names - roots)
    if unknown:
        raise ValidationError(f"{method.upper()} {path}: {', '.join(unknown)} not in the contract's schema")


def _xml_vocabulary(spec: dict, schema: dict) -> tuple[set[str], set[str]]:
    """(names the root may have, every element name the schema can reach)."""
    names: set[str] = set()
    seen: set[int] = set()

    def walk(node):
        if not isinstance(node, dict) or id(node) in seen:
            return
        seen.add(id(node))
        node = _resolve(spec, node)
        if (node.get("xml") or {}).get("name"):
            names.add(node["xml"]["name"])
        for name, child in (node.get("properties") or {}).items():
            if isinstance(child, list):  # the contract writes some allOf lists as a property named allOf
                for part in child:
                    walk(part)
                continue
            names.add(name)
            resolved = _resolve(spec, child) if isinstance(child, dict) else {}
            names.add(((child.get("xml") or {}).get("name")) or name)
            if (resolved.get("xml") or {}).get("name"):
                names.add(resolved["xml"]["name"])
            walk(child)
        for key in ("allOf", "oneOf", "anyOf"):
            for part in node.get(key) or []:
                walk(part)
        if "items" in node:
            # An array's elements are named by their schema where the contract gives them no xml name
            # (AssociatedSipPeers holds AssociatedSipPeer elements).
            if "$ref" in node["items"]:
                names.add(node["items"]["$ref"].rsplit("/", 1)[1])
            walk(node["items"])

    walk(schema)
    top = _resolve(spec, schema)
    roots = set(top.get("properties") or {}) | ({top["xml"]["name"]} if (top.get("xml") or {}).get("name") else set())
    for key in ("allOf", "oneOf", "anyOf"):
        for part in top.get(key) or []:
            part = _resolve(spec, part)
            roots |= set(part.get("properties") or {})
            if (part.get("xml") or {}).get("name"):
                roots.add(part["xml"]["name"])
    return roots, names
