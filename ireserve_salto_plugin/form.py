"""The settings form a host renders and stores, at the path ``hookspecs.md`` documents
(``ireserve_salto_plugin.form.merge_settings``). It lives in
:mod:`ireserve_salto_plugin.park.form`; the buttons come from the admin registry."""

from typing import Any

from ireserve_salto_plugin.admin.actions import ACTIONS
from ireserve_salto_plugin.park import form
from ireserve_salto_plugin.park.form import merge_settings

__all__ = ["json_schema", "merge_settings"]


def json_schema() -> dict[str, Any]:
    """The settings form as JSON Schema 2020-12, with every admin button
    (``config_form``)."""
    return form.json_schema(ACTIONS)
