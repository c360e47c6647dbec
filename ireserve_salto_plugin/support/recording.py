"""Recording Salto KS conversations as scrubbed vcrpy cassettes, and the hygiene scan that
proves a cassette holds no credential. Used by the QA cassettes (tests) and by
``ireserve-salto probe --cassette`` (first contact with a real environment).

The same request filter runs when a cassette is written and when a request is matched at
replay, so the OTP, delta, PIN, credentials, tokens and the hosts' real addresses are
replaced by fixed placeholders on both sides. Needs vcrpy and PyYAML
(``pip install ireserve-salto-plugin[probe]``; both are in the dev extras).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Canonical hosts written into every cassette, whatever was recorded against.
IDENTITY = "https://identity.salto-ks.invalid"
API = "https://api.salto-ks.invalid"

REDACTED = {
    "bearer": "Bearer REDACTED-ACCESS-TOKEN",
    "basic": "Basic REDACTED-CLIENT-CREDENTIALS",
    "username": "REDACTED-USERNAME",
    "password": "REDACTED-PASSWORD",
    "client_id": "REDACTED-CLIENT-ID",
    "client_secret": "REDACTED-CLIENT-SECRET",
    "refresh_token": "REDACTED-REFRESH-TOKEN",
    "access_token": "REDACTED-ACCESS-TOKEN",
    "id_token": "REDACTED-ID-TOKEN",
    "secret": "REDACTED-IQ-SECRET",
    "otp": "REDACTED-OTP",
    "delta": "REDACTED-DELTA",
    "pin": "REDACTED-PIN",
    "current_pin": "REDACTED-PIN",
    "new_pin": "REDACTED-PIN",
}
FORM_SECRETS = ("username", "password", "client_id", "client_secret", "refresh_token")
REQUEST_JSON_SECRETS = ("otp", "delta", "pin", "current_pin", "new_pin", "secret")
RESPONSE_JSON_SECRETS = ("access_token", "refresh_token", "id_token", "secret")
DROP_RESPONSE_HEADERS = ("date", "server", "set-cookie", "x-request-id")


@dataclass
class Rewriter:
    """Maps the recorded hosts' real base URLs to the canonical ones."""

    bases: dict[str, str] = field(default_factory=dict)  # real base -> canonical base

    def url(self, value: str) -> str:
        for real, canonical in self.bases.items():
            if value.startswith(real):
                return canonical + value[len(real) :]
        return value

    def text(self, value: str) -> str:
        for real, canonical in self.bases.items():
            value = value.replace(real, canonical)
        return value


def _scrub_json(data: Any, keys: tuple[str, ...]) -> Any:
    if isinstance(data, dict):
        return {
            k: (REDACTED[k] if k in keys and isinstance(v, str) else _scrub_json(v, keys))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_scrub_json(item, keys) for item in data]
    return data


def _body_text(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body)


def scrub_request(rewriter: Rewriter) -> Callable[[Any], Any]:
    def scrub(request: Any) -> Any:
        request.uri = rewriter.url(request.uri)
        parts = urlsplit(request.uri)
        if parts.query:
            query = [
                (k, REDACTED[k] if k in REQUEST_JSON_SECRETS else v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ]
            request.uri = urlunsplit(parts._replace(query=urlencode(query, safe="$'")))
        auth = request.headers.get("Authorization")
        if auth:
            request.headers["Authorization"] = REDACTED[
                "bearer" if auth.startswith("Bearer") else "basic"
            ]
        for name in ("Cookie", "Content-Length"):  # length varies with scrubbed values
            request.headers.pop(name, None)
        text = _body_text(request.body)
        if text:
            ctype = request.headers.get("Content-Type", "")
            if "x-www-form-urlencoded" in ctype:
                form = [
                    (k, REDACTED[k] if k in FORM_SECRETS else v)
                    for k, v in parse_qsl(text, keep_blank_values=True)
                ]
                request.body = urlencode(form).encode()
            elif text.lstrip().startswith(("{", "[")):
                try:
                    data = json.loads(text)
                except ValueError:
                    pass
                else:
                    request.body = json.dumps(
                        _scrub_json(data, REQUEST_JSON_SECRETS), sort_keys=True
                    ).encode()
        return request

    return scrub


def scrub_response(rewriter: Rewriter) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def scrub(response: dict[str, Any]) -> dict[str, Any]:
        headers = response["headers"]
        for name in list(headers):
            if name.lower() in DROP_RESPONSE_HEADERS:
                del headers[name]
        text = _body_text(response["body"].get("string"))
        if text:
            text = rewriter.text(text)
            try:
                data = json.loads(text)
            except ValueError:
                pass
            else:
                text = json.dumps(_scrub_json(data, RESPONSE_JSON_SECRETS))
            body = text.encode()
            response["body"]["string"] = body
            for name in list(headers):
                if name.lower() == "content-length":
                    headers[name] = [str(len(body))]
        return response

    return scrub


def make_vcr(rewriter: Rewriter, mode: str | None, library: Path) -> Any:
    """A vcrpy recorder (``mode`` set) or player (``None``) whose cassettes are scrubbed
    before they are written and matched with the same filter at replay."""
    import vcr

    return vcr.VCR(
        cassette_library_dir=str(library),
        path_transformer=vcr.VCR.ensure_suffix(".yaml"),
        record_mode="all" if mode else "none",
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        before_record_request=scrub_request(rewriter),
        before_record_response=scrub_response(rewriter),
        decode_compressed_response=True,
    )


# -- hygiene -------------------------------------------------------------------------------

TOKEN_SHAPES = (
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])"),  # opaque token
    re.compile(r"(?<![0-9A-Fa-f])[0-9A-F]{16}(?![0-9A-Fa-f])"),  # IQ secret shape
    re.compile(r"Bearer (?!REDACTED|error=)\S+"),  # not the WWW-Authenticate challenge
    re.compile(r"Basic (?!REDACTED)\S+"),
)


def _structural_leaks(data: Any) -> Iterator[str]:
    for n, item in enumerate(data.get("interactions", [])):
        request, response = item["request"], item["response"]
        for name, values in request.get("headers", {}).items():
            if name.lower() == "cookie":
                yield f"interaction {n}: request cookie"
            if name.lower() == "authorization" and any("REDACTED" not in value for value in values):
                yield f"interaction {n}: Authorization header"
        body = _body_text(request.get("body"))
        if body:
            for key, value in parse_qsl(body, keep_blank_values=True):
                if key in FORM_SECRETS and value != REDACTED[key]:
                    yield f"interaction {n}: form field {key}"
            yield from _json_leaks(body, REQUEST_JSON_SECRETS, f"interaction {n}: request")
        for name in response.get("headers", {}):
            if name.lower() == "set-cookie":
                yield f"interaction {n}: Set-Cookie"
        text = _body_text(response.get("body", {}).get("string"))
        if text:
            yield from _json_leaks(text, RESPONSE_JSON_SECRETS, f"interaction {n}: response")


def _json_leaks(text: str, keys: tuple[str, ...], where: str) -> Iterator[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, sub in value.items():
                if key in keys and isinstance(sub, str) and sub != REDACTED[key]:
                    yield f"{where} field {key}"
                yield from walk(sub)
        elif isinstance(value, list):
            for sub in value:
                yield from walk(sub)

    yield from walk(data)


SHORT_SECRET = 8  # a PIN or an OTP: searched as a whole word, away from ids and dates
_NOISE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # UUIDs
    r"|\b[0-9a-f]{32}\b"  # attempt ids
    r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?"  # ISO times
    r"|\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}"  # HTTP dates
    r"|(?i:content-length)\W+\d+"
)  # sizes


def _mentions(text: str, scrubbed: str, secret: str) -> bool:
    """Whether ``secret`` is in the recording. A 4-digit PIN also occurs by chance in ids,
    dates and sizes, so a short one counts only as a whole word outside those (this was a
    flaky "NOT written" once in 30 runs)."""
    if len(secret) >= SHORT_SECRET:
        return secret in text
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", scrubbed) is not None


def hygiene_problems(path: Path, known_secrets: tuple[str, ...] = ()) -> list[str]:
    """Every way ``path`` may hold a credential; empty when it is clean."""
    text = path.read_text()
    scrubbed = _NOISE.sub(" ", text)
    problems = [
        f"{path.name}: a secret used in the recording"
        for s in known_secrets
        if s and _mentions(text, scrubbed, s)
    ]
    for shape in TOKEN_SHAPES:
        for match in shape.finditer(text):
            problems.append(f"{path.name}: token-shaped string {match.group()[:6]}…")
    if path.suffix == ".yaml":
        import yaml

        problems += [
            f"{path.name}: {leak}" for leak in _structural_leaks(yaml.safe_load(text) or {})
        ]
    return problems
