"""The reference host (how i-Reserve calls the hooks), the web admin and the demo, all
running on the sandbox."""

from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost

__all__ = ["Booking", "Park", "ReferenceHost"]
