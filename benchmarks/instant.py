"""An HTTP adapter that answers 200 at once without I/O: isolates client-side work from the
network. Imports nothing of the plugin, so ``versus_child.py`` (run as a file against any
version's checkout) imports it from its own folder too."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict


class InstantAdapter(requests.adapters.HTTPAdapter):
    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        resp = requests.Response()
        resp.status_code = 200
        resp._content = b""
        resp.headers = CaseInsensitiveDict({"Date": formatdate(usegmt=True), "Content-Length": "0"})
        resp.request, resp.url, resp.connection = request, request.url or "", self
        return resp
