"""i-Reserve integration plugin that opens Salto KS locks for bookings.

The plugin instance the host loads is :data:`ireserve_salto_plugin.plugin.plugin`
(entry point ``salto_ks`` in the ``ireserve`` group). Importing this package does no work.
"""

from importlib.metadata import PackageNotFoundError, version

try:  # the version lives in one place: pyproject.toml
    __version__ = version("ireserve-salto-plugin")
except PackageNotFoundError:  # a checkout that is not installed
    __version__ = "0+unknown"
INTEGRATION = "salto_ks"
