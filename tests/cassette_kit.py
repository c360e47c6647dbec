"""QA cassettes: where they live, how recording is switched on, and the recorder and
hygiene scan of :mod:`ireserve_salto_plugin.support.recording` bound to ``cassettes/``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ireserve_salto_plugin.support.recording import (
    API,
    DROP_RESPONSE_HEADERS,
    FORM_SECRETS,
    IDENTITY,
    REDACTED,
    REQUEST_JSON_SECRETS,
    RESPONSE_JSON_SECRETS,
    TOKEN_SHAPES,
    Rewriter,
    hygiene_problems,
    scrub_request,
    scrub_response,
)
from ireserve_salto_plugin.support.recording import make_vcr as _make_vcr

__all__ = [
    "API",
    "CASSETTES",
    "DROP_RESPONSE_HEADERS",
    "FORM_SECRETS",
    "IDENTITY",
    "REDACTED",
    "REQUEST_JSON_SECRETS",
    "RESPONSE_JSON_SECRETS",
    "TARGET_FILE",
    "TOKEN_SHAPES",
    "Rewriter",
    "hygiene_problems",
    "make_vcr",
    "record_mode",
    "scrub_request",
    "scrub_response",
]

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
TARGET_FILE = CASSETTES / "target.json"


def record_mode() -> str | None:
    """``SALTO_KS_RECORD`` = ``sandbox`` or ``acceptance`` re-records; unset replays."""
    value = os.environ.get("SALTO_KS_RECORD") or None
    if value not in (None, "sandbox", "acceptance"):
        raise RuntimeError("SALTO_KS_RECORD must be 'sandbox' or 'acceptance'")
    return value


def make_vcr(rewriter: Rewriter, mode: str | None) -> Any:
    return _make_vcr(rewriter, mode, CASSETTES)
