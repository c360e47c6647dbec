"""i-Reserve integration plugin that opens Salto KS locks for bookings.

The plugin instance the host loads is :data:`ireserve_salto_plugin.plugin.plugin`
(entry point ``salto_ks`` in the ``ireserve`` group). Importing this package does no work.
"""

__version__ = "0.1.0"
INTEGRATION = "salto_ks"
