"""The embedded Salto KS sandbox, the reference host and the demo (shipped in the wheel)."""

from .host import Booking, Park, ReferenceHost
from .server import SaltoSandbox

__all__ = ["Booking", "Park", "ReferenceHost", "SaltoSandbox"]
