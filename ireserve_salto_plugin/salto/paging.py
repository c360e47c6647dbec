"""Reading a whole Salto KS list: ``{items, next_page_link, count}`` pages or a bare array.

``next_page_link`` is followed when there is one (on the API's origin only). Salto sends it
null (docs/salto-ks-api.md, "Paging"), so without one the next page is asked by ``$skip``
while pages come back full, until a short page or ``count``, one page after the other
(Salto sends ``count`` null, so nothing can be read ahead of it): a site of 5,000 locks is
50 pages. A ``count`` below what was read is wrong and ignored.
More than ``max_pages`` pages or ``max_items`` items, or a link seen before, is an error:
never a silently short list, never an endless loop. A page whose ids repeat those read
before (a Salto that ignores ``$skip``) ends the read at once: the list is then marked
``paging_ignored``, never returned with repeated ids.

A read says whether it is **complete** (:class:`Listing`): read to an empty page, to
``count``, or to a null link after a link. A read that stopped at its first short page (the
open's, on purpose: fast) may be cut by a page cap Salto does not announce, so it is not:
what people are shown, and any "not found", must come from a complete list.

``ahead`` (the lock list): the page at ``$skip=size`` is asked together with the first, so
a site of exactly one full page costs one round trip in a row, not two. When the first page
alone ends the list (short, or with a link or ``count``), the second is not waited for and
its answer or error is dropped: one spare read per list refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple
from urllib.parse import urljoin

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from ireserve_salto_plugin.salto.config import Origin, Tuning, origin
from ireserve_salto_plugin.salto.errors import Unavailable

MAX_LINK_CHARS = 2000

# (params, url) -> the decoded answer: ``params`` for a ``$skip`` page, ``url`` for a link
Fetch = Callable[[Mapping[str, Any] | None, str | None], Any]
Page = tuple[list[Any], Any, int | None]  # items, next_page_link, count


class Listing(NamedTuple):
    items: list[Any]
    complete: bool  # read to its end (an empty page, count, a null link after a link)
    paging_ignored: bool = False  # a page repeated one before: only the first page is known


def item_id(item: Any) -> Any:
    """What identifies a list item when pages are compared (locks and IQs: ``id``; an
    activation: ``iq_id``); ``None`` when there is nothing to compare."""
    if not isinstance(item, dict):
        return None
    found = item.get("id", item.get("iq_id"))
    return found if isinstance(found, str) else None


def parse_page(body: Any, path: str) -> Page:
    if isinstance(body, list):
        return body, None, None
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        count = body.get("count")
        return (
            body["items"],
            body.get("next_page_link"),
            (count if isinstance(count, int) and not isinstance(count, bool) else None),
        )
    raise Unavailable(
        f"Salto KS sent an unexpected list shape for GET {path}", method="GET", path=path
    )


def read_all(
    fetch: Fetch,
    path: str,
    *,
    api: str,
    page_size: int,
    tuning: Tuning,
    on_page: Callable[[int, int | None], None] | None = None,
    thorough: bool = False,
    ahead: bool = False,
) -> Listing:
    """Every item of the list at ``path``, in Salto's order. ``on_page(items read so far,
    count if known)`` is told after each page or batch (a progress bar).

    ``thorough`` (lists read for people: the dropdown, ``refresh_locks``, ``status``, the
    probe): a page shorter than asked may be a server-side cap, not the end (the size
    Salto honours is unmeasured), so it ends the list only when ``count`` says the list is
    complete or one more read comes back empty."""
    size, api_origin = page_size, origin(api)

    def page_at(skip: int) -> Page:
        return parse_page(fetch({"$top": size, "$skip": skip}, None), path)

    items: list[Any] = []
    ids: set[Any] = set()
    url: str | None = None
    seen: set[str] = set()
    pages = 0
    spare = _Ahead(page_at, size) if ahead and tuning.max_pages > 1 else None
    while pages < tuning.max_pages:
        try:
            page, link, count = parse_page(fetch(None, url), path) if url else page_at(len(items))
        except BaseException:
            if spare is not None:
                spare.drop()  # the first page failed: the list fails, the spare is not read
            raise
        pages += 1
        batch = [page]
        if spare is not None:
            second, spare = spare, None
            if not link and len(page) == size and (count is None or count > size):
                batch.append(second.result())  # the page at $skip=size, read already
                pages += 1
            else:
                second.drop()
        if not _extend(items, ids, batch):  # the same items again: Salto ignores $skip
            return Listing(items, False, True)
        if on_page is not None:
            on_page(len(items), count)
        if len(items) > tuning.max_items:
            raise Unavailable(
                f"Salto KS listed more than {tuning.max_items} items for GET {path}",
                method="GET",
                path=path,
            )
        if isinstance(link, str) and link:
            url = next_link(link, path, api, api_origin, seen)
            continue
        ended = _ended(items, batch[-1], count, size, after_link=url is not None)
        if ended is not None and (ended.complete or not thorough):
            return ended
    raise Unavailable(
        f"Salto KS sent more than {tuning.max_pages} pages for GET {path}", method="GET", path=path
    )


def _extend(items: list[Any], ids: set[Any], batch: list[list[Any]]) -> bool:
    """Adds the batch's pages to ``items``; False (adding nothing more) when a page repeats
    ids read before."""
    for page in batch:
        found = {item_id(item) for item in page} - {None}
        if found & ids:
            return False
        ids |= found
        items.extend(page)
    return True


def _ended(
    items: list[Any], last: list[Any], count: int | None, size: int, *, after_link: bool
) -> Listing | None:
    """The list as read so far when the last page ends it: complete after a null link that
    followed links, an empty page or ``count`` items (more than ``count``: it is wrong);
    not complete after a short page (maybe cut by a cap Salto does not announce)."""
    if after_link or not last or (count is not None and len(items) == count):
        return Listing(items, True)
    if len(last) < size:
        return Listing(items, False)
    return None


class _Ahead:
    """The page at ``$skip=size``, read in a thread of its own while the first is read."""

    def __init__(self, page_at: Callable[[int], Page], size: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="salto-page")
        self._future = self._pool.submit(page_at, size)

    def result(self) -> list[Any]:
        try:
            return self._future.result()[0]
        finally:
            self._pool.shutdown(wait=False)

    def drop(self) -> None:
        """Not needed: its answer (or error) is dropped without waiting for it."""
        self._future.add_done_callback(lambda future: future.exception())
        self._pool.shutdown(wait=False)


def next_link(link: str, path: str, api: str, api_origin: Origin, seen: set[str]) -> str:
    """A ``next_page_link`` as the URL to request: the API's own origin plus the link's
    path and query, rebuilt (the link's host is never used). The link is read with the
    parser that sends the request (urllib3's ``parse_url``): ``urlsplit`` and urllib3
    disagree on a backslash before ``@``, which once sent the park's token to another host.
    Refused: a backslash, userinfo, whitespace or a control character; another host or port;
    a link seen before. An ``http`` link to the API's own host is followed over https when
    the API is https (Salto's own SDK does this: links may come back as http from behind
    TLS termination)."""

    def refuse(why: str) -> Unavailable:
        return Unavailable(f"Salto KS sent a next_page_link {why}", method="GET", path=path)

    if (
        len(link) > MAX_LINK_CHARS
        or "\\" in link
        or not link.isprintable()
        or any(char.isspace() for char in link)
    ):
        raise refuse("that is malformed")
    try:
        parsed = parse_url(urljoin(f"{api}/", link))
    except (ValueError, LocationParseError):
        raise refuse("that is malformed") from None
    scheme, host, port = api_origin
    link_scheme = (parsed.scheme or "").lower()
    if link_scheme == scheme:
        link_port = parsed.port or (443 if scheme == "https" else 80)
    elif scheme == "https" and link_scheme == "http" and parsed.port in (None, 80):
        link_port = port  # an http link to the API's own host, behind TLS termination
    else:
        raise refuse("to another host")
    if (
        parsed.auth is not None
        or (parsed.host or "").lower().strip("[]") != host.strip("[]")
        or link_port != port
    ):
        raise refuse("to another host")
    name = f"[{host}]" if ":" in host else host
    netloc = name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"
    url = f"{scheme}://{netloc}{parsed.path or '/'}" + (f"?{parsed.query}" if parsed.query else "")
    if url in seen:
        raise refuse("twice (the same one)")
    seen.add(url)
    return url


MAX_TOKEN_CHARS = 2000  # a longer continuation token is not sent back

# (params, continuation token) -> (the decoded answer, the next continuation token)
Continued = Callable[[Mapping[str, Any], str | None], tuple[Any, str | None]]


def read_continued(
    fetch: Continued,
    path: str,
    *,
    top: int,
    page: int,
    params: Mapping[str, Any],
    max_pages: int,
    enough: Callable[[dict[str, Any]], bool] | None = None,
) -> Listing:
    """The first ``top`` items of a list paged by a continuation token instead of
    ``$skip`` (the entries: docs/salto-ks-api.md, "Endpoints", row 17): an answer with more
    to come carries the token, sent back with the next request. ``enough(item)``: the read
    may stop at this item (an entry older than what is looked for). The listing is
    ``complete`` when it reached ``top``, ``enough`` or the end of the list, not when
    ``max_pages`` stopped it. A token seen before or one too long is an error, never an
    endless loop."""
    items_read: list[dict[str, Any]] = []
    token: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        body, token = fetch({"$top": min(top - len(items_read), page), **params}, token)
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise Unavailable("Salto KS sent an unexpected entry list", method="GET", path=path)
        items_read.extend(item for item in items if isinstance(item, dict))
        done = enough is not None and any(
            enough(item) for item in items_read[-len(items) :] if items and isinstance(item, dict)
        )
        if done or not items or len(items_read) >= top or not token:
            return Listing(items_read[:top], True)
        if (
            token in seen
            or len(token) > MAX_TOKEN_CHARS
            or not token.isprintable()
            or not token.isascii()
        ):
            raise Unavailable(
                "Salto KS sent an unusable continuation token", method="GET", path=path
            )
        seen.add(token)
    return Listing(items_read[:top], False)
