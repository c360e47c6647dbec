"""The embedded Salto KS sandbox: a fake identity server and Connect API on loopback that
behaves as docs/salto-ks-api.md says (shipped in the wheel, for the demo and the tests)."""

from ireserve_salto_plugin.sandbox.server import SaltoSandbox

__all__ = ["SaltoSandbox"]
