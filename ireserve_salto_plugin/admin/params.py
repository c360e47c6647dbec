"""Reading an admin action's ``params``: each value checked, and a bad one named."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ireserve_salto_plugin.salto.types import canonical_uuid

PIN = re.compile(r"[0-9]{4}")


class ParamError(ValueError):
    """A parameter of an admin action is missing or malformed; the message names it."""


def uuid_param(params: Mapping[str, Any], name: str, what: str = "IQ") -> str:
    try:
        return canonical_uuid(params.get(name))
    except ValueError:
        raise ParamError(
            f"{name}: must be the UUID of the {what} (see the Salto KS web app)"
        ) from None


def pin_param(params: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = params.get(name)
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not PIN.fullmatch(value):
        raise ParamError(f"{name}: must be exactly 4 digits")
    return value
