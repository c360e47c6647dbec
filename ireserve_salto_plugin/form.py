"""The settings form a host renders and stores, at the path ``hookspecs.md`` documents
(``ireserve_salto_plugin.form.merge_settings``). It lives in
:mod:`ireserve_salto_plugin.park.form`."""

from ireserve_salto_plugin.park.form import json_schema, merge_settings

__all__ = ["json_schema", "merge_settings"]
