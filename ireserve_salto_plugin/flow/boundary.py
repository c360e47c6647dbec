"""The hook boundary: a hook never raises. :func:`never_raises` logs what escaped (with
its traceback) and answers the hook's documented fallback instead."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("ireserve_salto_plugin.flow.service")


def never_raises(
    hook: str, fallback: Callable[[], Any]
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """The decorated call's result, or ``fallback()`` after logging "salto ``hook``
    failed unexpectedly" when anything but a ``BaseException`` of the interpreter's own
    (``KeyboardInterrupt``, ``SystemExit``) escaped it."""

    def decorate(func: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(func)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return func(*args, **kwargs)
            except Exception:
                log.exception("salto %s failed unexpectedly", hook)
                result: T = fallback()  # the hook's documented answer to a failure
                return result

        return guarded

    return decorate
