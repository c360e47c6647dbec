"""Salto's event stream: :class:`EventListener` and the :class:`LockEvent` it reports."""

from ireserve_salto_plugin.events.listener import EventListener
from ireserve_salto_plugin.events.protocol import LockEvent

__all__ = ["EventListener", "LockEvent"]
