"""The reference host's web admin, driven in headless Chromium (Debian's chromium and
chromium-driver, through Selenium): the whole activation, a mapping and an open, in Dutch,
with a screenshot of each tab in build/screenshots/."""

from __future__ import annotations

import html
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.reference import Park, ReferenceHost
from ireserve_salto_plugin.reference.host import Booking
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import first_lock

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
TOKEN = "test-login-token"


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are not installed (./dev test does it)")
        pytest.skip("chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    browser.implicitly_wait(5)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def admin_url(host: ReferenceHost, park: Park) -> Iterator[str]:
    from ireserve_salto_plugin.reference.admin_web import create_app, serve

    server = serve(create_app(host, park, token=TOKEN))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


class _Enter:
    """The Enter key in a field, as something ``through`` can click."""

    def __init__(self, element: Any) -> None:
        self.element = element

    def click(self) -> None:
        from selenium.webdriver.common.keys import Keys

        self.element.send_keys(Keys.ENTER)


def through(browser: Any, element: Any) -> None:
    """Click what submits a form or follows a link, and wait until the next page has
    replaced this one (reading the old page's message was a race)."""
    from selenium.webdriver.support.wait import WebDriverWait

    browser.execute_script("window.__before_click = true")  # a new page has a new window
    element.click()
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "return window.__before_click === undefined && document.readyState === 'complete'"
        )
    )


def test_activation_mapping_and_an_open_in_a_real_browser(
    browser: Any, admin_url: str, host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    lock = first_lock(sandbox)
    _log_in_and_activate(browser, admin_url, park, sandbox, lock)
    _details_and_mapping(browser, host, park, sandbox, lock)
    _a_staff_open(browser, admin_url, host, sandbox)
    _other_languages_and_salto_down(browser, admin_url, sandbox)


def _log_in_and_activate(
    browser: Any, admin_url: str, park: Park, sandbox: SaltoSandbox, lock: Any
) -> None:
    from selenium.webdriver.common.by import By

    find = browser.find_element
    browser.get(f"{admin_url}/?lang=nl&tab=authentication")  # not logged in: the login page
    find(By.ID, "token").send_keys(TOKEN)
    through(browser, find(By.ID, "login"))
    browser.get(f"{admin_url}/?lang=nl&tab=authentication")
    assert find(By.ID, "tab-authentication").text == "Authenticatie"
    assert find(By.ID, "field-password").get_attribute("value") == ""  # never sent back
    through(browser, find(By.ID, "action-resolve_site"))
    assert "site" in find(By.ID, "message").text.lower()
    assert park.integrations[INTEGRATION]["site_id"] == sandbox.site.id  # type: ignore[union-attr]
    browser.save_screenshot(str(SHOTS / "1-authentication-nl.png"))

    through(browser, find(By.ID, "tab-iq_otp"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#iqs tr")
    index = next(n for n, row in enumerate(rows[1:], 1) if lock.iq.id in row.text)
    through(browser, find(By.ID, f"get-pin-{index}"))
    assert "PIN" in find(By.ID, "message").text
    mails = len(sandbox.mails())
    # Enter in the PIN box presses this row's Set PIN (it used to press the page's first
    # button: GET PIN of the first IQ, a second e-mail, the typed PIN lost)
    pin_box = find(By.ID, f"pin-{index}")
    pin_box.send_keys(sandbox.last_pin(lock.iq.id))
    through(browser, _Enter(pin_box))
    assert len(sandbox.mails()) == mails
    assert find(By.CSS_SELECTOR, "b.activated").text == "IQ is geactiveerd"
    assert find(By.ID, "message").text.startswith("IQ is geactiveerd: openingen")
    assert park.integrations[INTEGRATION]["iqs"][lock.iq.id]["secret"]
    through(browser, find(By.ID, f"self-test-{index}"))
    assert find(By.ID, "message").text.startswith("Cloudcontrole geslaagd")
    assert "niet genoeg" in find(By.ID, "message").text  # necessary, not sufficient
    assert find(By.ID, f"forget-iq-{index}").text == "IQ vergeten"  # the way back
    browser.save_screenshot(str(SHOTS / "2-iq-otp-nl.png"))


def _details_and_mapping(
    browser: Any, host: ReferenceHost, park: Park, sandbox: SaltoSandbox, lock: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    find = browser.find_element
    through(browser, find(By.ID, "tab-details"))
    assert "Minuten vooraf" in browser.page_source
    minutes = find(By.NAME, "minutes_before")
    minutes.clear()
    minutes.send_keys("-5")
    field = find(By.NAME, "open_field")
    field.clear()
    field.send_keys("geopend_op")
    through(browser, find(By.ID, "save"))
    assert (
        "Minuten vooraf (minutes_before): Moet een geheel getal van 0 tot 1440 zijn."
        in find(By.ID, "message").text
    )
    # the edits are still there to correct, not thrown away
    assert find(By.NAME, "open_field").get_attribute("value") == "geopend_op"
    assert find(By.NAME, "minutes_before").get_attribute("value") == "-5"
    browser.save_screenshot(str(SHOTS / "3-details-nl.png"))

    host.objects.update({"chalet-12": "Chalet 12", "chalet-13": "Chalet 13", "pool": "Zwembad"})
    through(browser, find(By.ID, "tab-mapping"))
    assert find(By.ID, "read-at").text  # when the lock list was read from Salto
    row = Select(find(By.ID, "lock-chalet-12"))  # a dropdown per object of the host
    assert len(row.options) == 37  # "—" and the site's 36 locks
    assert "voorstel: Chalet 12" in find(By.ID, "row-chalet-12").text
    row.select_by_value(lock.id)
    through(browser, find(By.ID, "save"))
    assert find(By.ID, "message").text == "Opgeslagen."
    assert park.integrations[INTEGRATION]["mapping"] == {"chalet-12": lock.id}
    assert park.integrations[INTEGRATION]["password"] == sandbox.password  # kept by merge
    assert "IQ is geactiveerd" in find(By.ID, "row-chalet-12").text
    browser.save_screenshot(str(SHOTS / "4-mapping-nl.png"))


def _a_staff_open(browser: Any, admin_url: str, host: ReferenceHost, sandbox: SaltoSandbox) -> None:
    from selenium.webdriver.common.by import By

    find = browser.find_element
    start = sandbox.clock.utcnow() - timedelta(hours=1)
    host.add_booking(Booking("B-100", "chalet-12", "confirmed", start, start + timedelta(days=2)))
    browser.get(f"{admin_url}/bookings?lang=nl")
    through(browser, find(By.ID, "booking-B-100"))
    assert find(By.ID, "verdict").get_attribute("data-verdict") == "opened"
    assert find(By.ID, "verdict").text.startswith("Nu openen zou lukken")
    assert (
        "in orde" in find(By.ID, "explainer").text
        and "ok" not in find(By.ID, "explainer").text.split()
    )  # states in Dutch, not codes
    through(browser, find(By.ID, "open"))
    assert "Chalet 12" in find(By.ID, "confirm-question").text  # a staff open asks first
    assert sandbox.call_count("PATCH") == 0
    through(browser, find(By.ID, "confirm-open"))
    assert find(By.ID, "guest-message").text == "Het slot is ontgrendeld – duw de deur nu open."
    assert find(By.ID, "staff-message").text.startswith("Slot ")
    assert sandbox.call_count("PATCH") == 1
    browser.save_screenshot(str(SHOTS / "5-booking-nl.png"))
    through(browser, find(By.ID, "lang-en"))  # after the POST: was 405
    assert "B-100" in find(By.TAG_NAME, "h2").text and sandbox.call_count("PATCH") == 1


def _other_languages_and_salto_down(browser: Any, admin_url: str, sandbox: SaltoSandbox) -> None:
    from selenium.webdriver.common.by import By

    find = browser.find_element
    browser.get(f"{admin_url}/?lang=de&tab=details")
    assert find(By.ID, "tab-details").text == "Details" and "Minuten vorher" in browser.page_source
    browser.save_screenshot(str(SHOTS / "7-details-de.png"))
    browser.get(f"{admin_url}/?lang=de&tab=mapping")
    assert (
        find(By.ID, "tab-mapping").text == "Schloss pro Objekt"
        or find(By.ID, "suggest").text == "Vorschläge übernehmen"
    )
    browser.save_screenshot(str(SHOTS / "8-mapping-de.png"))
    browser.get(f"{admin_url}/?lang=en&tab=iq_otp")
    assert find(By.ID, "tab-iq_otp").text == "Activate IQs"
    browser.save_screenshot(str(SHOTS / "6-iq-otp-en.png"))
    browser.get(f"{admin_url}/?lang=en&tab=mapping")
    browser.save_screenshot(str(SHOTS / "9-mapping-en.png"))

    sandbox.stop()  # Salto down: said on the page, not an empty table
    browser.get(f"{admin_url}/?lang=nl&tab=iq_otp")
    assert "Salto KS" in find(By.CLASS_NAME, "trouble").text
    browser.get(f"{admin_url}/?lang=nl&tab=mapping")  # the list is cached: said so, and when
    trouble = find(By.CLASS_NAME, "trouble").text
    assert "Salto KS" in trouble and "De sloten hieronder zijn de lijst van" in trouble
    assert find(By.ID, "read-at").text in trouble
    browser.save_screenshot(str(SHOTS / "10-salto-down-nl.png"))


def test_enter_means_save_on_every_tab(
    browser: Any,
    admin_url: str,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
) -> None:
    """Enter in a text box pressed the form's first button: on Mapping the first row's
    "Delete" (chalet-12's mapping gone, "Saved." said), on Authentication the test of the
    stored password (the new one dropped), on Details the status check. Enter is Save."""
    from selenium.webdriver.common.by import By

    find = browser.find_element
    browser.get(f"{admin_url}/login?lang=nl")
    find(By.ID, "token").send_keys(TOKEN)
    through(browser, find(By.ID, "login"))

    browser.get(f"{admin_url}/?lang=nl&tab=mapping")
    label = find(By.ID, "common-label-1")
    label.send_keys("Slagboom")
    through(browser, _Enter(label))
    assert find(By.ID, "message").text == "Opgeslagen."
    assert park.integrations[INTEGRATION]["mapping"] == {"chalet-12": mapped.id}  # not deleted

    browser.get(f"{admin_url}/?lang=nl&tab=details")
    minutes = find(By.NAME, "minutes_before")
    minutes.clear()
    minutes.send_keys("45")
    through(browser, _Enter(minutes))
    assert find(By.ID, "message").text == "Opgeslagen."
    assert park.integrations[INTEGRATION]["minutes_before"] == 45

    browser.get(f"{admin_url}/?lang=nl&tab=authentication")
    password = find(By.ID, "field-password")
    password.send_keys("a-new-password")
    through(browser, _Enter(password))
    assert find(By.ID, "message").text == "Opgeslagen."  # not "Verbonden" with the old one
    assert park.integrations[INTEGRATION]["password"] == "a-new-password"


# -- what the web admin protects (the Flask test client) -----------------------------------------


@pytest.fixture
def client(host: ReferenceHost, park: Park) -> Any:
    from ireserve_salto_plugin.reference.admin_web import create_app

    app = create_app(host, park, token=TOKEN)
    return app.test_client()


def csrf_of(page: bytes) -> str:
    import re

    match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1).decode()


def logged_in(client: Any) -> Any:
    token = csrf_of(client.get("/login").data)
    assert client.post("/login", data={"token": TOKEN, "csrf_token": token}).status_code == 302
    return client


def test_every_page_needs_the_login(client: Any) -> None:
    assert client.get("/?tab=mapping").status_code == 302
    assert client.get("/bookings").headers["Location"].startswith("/login")
    wrong = client.post(
        "/login", data={"token": "guess", "csrf_token": csrf_of(client.get("/login").data)}
    )
    assert wrong.status_code == 400 and b'id="token"' in wrong.data
    assert b"Wrong login token" in wrong.data
    dutch = client.post(
        "/login?lang=nl",
        data={"token": "guess", "csrf_token": csrf_of(client.get("/login?lang=nl").data)},
    )
    assert "Onjuist inlogtoken" in dutch.data.decode()  # says so, in the page's language


def test_a_post_without_its_csrf_token_is_refused(
    client: Any, park: Park, sandbox: SaltoSandbox
) -> None:
    """Another web page the admin visits cannot remap a chalet or send Set PINs."""
    logged_in(client)
    before = dict(park.integrations["salto_ks"])
    forged = client.post(
        "/save?tab=mapping", data={"action": "save", "map_object": "x", "map_lock": "y"}
    )
    assert forged.status_code == 400 and park.integrations["salto_ks"] == before
    pin = client.post("/save?tab=iq_otp", data={"action": f"set_pin:{first_lock(sandbox).iq.id}"})
    assert pin.status_code == 400 and sandbox.call_count("PUT") == 0


def test_a_rebound_host_name_is_refused(client: Any) -> None:
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "localhost:8080"}).status_code == 200


def test_the_session_cookie_is_strict_and_messages_never_come_from_the_url(client: Any) -> None:
    logged_in(client)
    page = client.get("/?tab=authentication&message=Call+0900-SCAM+now")
    assert page.status_code == 200 and b"0900-SCAM" not in page.data
    cookie = client.get_cookie(client.application.config["SESSION_COOKIE_NAME"])
    assert cookie is not None and cookie.same_site == "Strict" and cookie.http_only


def test_unknown_pages_are_404_not_500(client: Any, host: ReferenceHost) -> None:
    logged_in(client)
    assert client.get("/?tab=nope").status_code == 404
    assert client.get("/booking/unknown").status_code == 404
    start = datetime.now(UTC)
    host.add_booking(Booking("B/7", "chalet-12", "confirmed", start, start + timedelta(days=1)))
    assert client.get("/booking/B/7").status_code == 200  # an id with a slash


def test_the_default_lock_is_a_dropdown_and_is_saved(
    client: Any, park: Park, sandbox: SaltoSandbox
) -> None:
    logged_in(client)
    page = client.get("/?tab=mapping&lang=nl").data.decode()
    assert '<select name="default_lock_id"' in page
    reception = next(
        lock
        for lock in sandbox.site.locks.values()  # type: ignore[union-attr]
        if lock.name == "Reception"
    )
    saved = client.post(
        "/save?tab=mapping&lang=nl",
        data={
            "action": "save",
            "default_lock_id": reception.id,
            "csrf_token": csrf_of(page.encode()),
        },
    )
    assert saved.status_code == 302
    assert park.integrations["salto_ks"]["default_lock_id"] == reception.id


def test_salto_down_is_said_on_the_page(client: Any, sandbox: SaltoSandbox) -> None:
    logged_in(client)
    sandbox.stop()
    iqs = client.get("/?tab=iq_otp&lang=nl").data.decode()
    assert "trouble" in iqs and "Salto KS" in iqs
    mapping = client.get("/?tab=mapping&lang=nl").data.decode()
    assert "Er konden geen sloten van Salto KS worden gelezen" in mapping


# -- the mapping table ---------------------------------------------------------------------------


def _post(client: Any, page: str, **data: str) -> Any:
    return client.post(
        "/save?tab=mapping&lang=nl", data={"csrf_token": csrf_of(page.encode()), **data}
    )


def test_every_object_of_the_host_gets_a_lock_dropdown_and_a_suggestion(
    client: Any, host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    """36 chalets are one page, not 36 saves: a row per object, a dropdown each, the lock
    whose name matches suggested ("chalet-12" ↔ "Chalet 12") and used only on request."""
    host.objects.update({f"chalet-{n}": f"Chalet {n}" for n in range(1, 37)})
    host.objects["pool"] = "Zwembad"  # no lock is called so: no suggestion
    logged_in(client)
    page = client.get("/?tab=mapping&lang=nl").data.decode()
    assert page.count('<select name="lock:') == 37
    assert "voorstel:" in page and "Slotenlijst gelezen van Salto KS om" in page
    assert "mapping" not in park.integrations[INTEGRATION]  # a suggestion is not saved
    filled = _post(client, page, action="suggest").data.decode()
    names = {lock.name for lock in sandbox.site.locks.values()}  # type: ignore[union-attr]
    matching = sum(f"Chalet {n}" in names for n in range(1, 37))
    assert 30 <= matching < 36 and f"{matching} voorgesteld" in filled
    chalet12 = first_lock(sandbox)
    form = {key: value for key, value in _selected(filled).items()}
    assert form["lock:chalet-12"] == chalet12.id and form["lock:pool"] == ""
    saved = _post(client, filled, action="save", **form)
    assert saved.status_code == 302
    mapping = park.integrations[INTEGRATION]["mapping"]
    assert len(mapping) == matching and mapping["chalet-12"] == chalet12.id
    assert "pool" not in mapping


def _selected(page: str) -> dict[str, str]:
    """The value each ``lock:`` dropdown of a page has selected ("" for none)."""
    import re

    found = {}
    for name, body in re.findall(r'<select name="(lock:[^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', body)
        found[name] = chosen.group(1) if chosen else ""
    return found


def test_a_row_is_deleted_and_a_paste_is_imported_by_lock_name(
    client: Any, host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    logged_in(client)
    page = client.get("/?tab=mapping&lang=nl").data.decode()
    assert _post(client, page, action="unmap:chalet-12").status_code == 302
    assert park.integrations[INTEGRATION]["mapping"] == {}
    pasted = "object;lock\nchalet-12;chalet 12\nchalet-13\tChalet 13\nchalet-99,Chalet 99\n"
    refused = html.unescape(
        _post(client, page, action="import", mapping_import=pasted).data.decode()
    )
    assert "Regel 4: geen slot van de site heet 'Chalet 99'." in refused
    assert park.integrations[INTEGRATION]["mapping"] == {}  # nothing of a bad paste is kept
    assert "chalet-13\tChalet 13" in refused  # the pasted text stays, to correct
    ok = _post(
        client, page, action="import", mapping_import=pasted.replace("chalet-99,Chalet 99\n", "")
    )
    assert ok.status_code == 302
    assert park.integrations[INTEGRATION]["mapping"] == {
        "chalet-12": mapped.id,
        "chalet-13": first_lock(sandbox, "Chalet 13").id,
    }


def test_import_saves_the_rows_the_form_shows_and_a_failed_paste_keeps_them(
    client: Any, host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    """After "Use suggestions" and a paste, Import saved only the pasted rows and said
    "Saved."; a failed paste also reset the suggestions. Now the form's rows are saved with
    the pasted ones, the answer says so, and a failed paste keeps the suggestions shown."""
    host.objects.update({f"chalet-{n}": f"Chalet {n}" for n in range(1, 37)})
    logged_in(client)
    page = client.get("/?tab=mapping&lang=nl").data.decode()
    filled = _post(client, page, action="suggest").data.decode()
    shown = {name: value for name, value in _selected(filled).items() if value}
    assert len(shown) >= 30 and "mapping" not in park.integrations[INTEGRATION]
    bad = _post(client, filled, action="import", mapping_import="chalet-99;Chalet 1", **shown)
    refused = html.unescape(bad.data.decode())
    assert "Regel 1: hier heet geen accommodatie 'chalet-99'." in refused
    assert {k: v for k, v in _selected(refused).items() if v} == shown  # suggestions kept
    assert "mapping" not in park.integrations[INTEGRATION]
    pool = first_lock(sandbox, "Chalet 20").id
    host.objects["pool"] = "Zwembad"
    saved = _post(client, filled, action="import", mapping_import="Zwembad;Chalet 20", **shown)
    assert saved.status_code == 302
    mapping = park.integrations[INTEGRATION]["mapping"]
    assert mapping == {**{k.removeprefix("lock:"): v for k, v in shown.items()}, "pool": pool}
    said = html.unescape(client.get(saved.headers["Location"]).data.decode())
    assert "Opgeslagen: 1 geplakte regels, en de andere regels zoals het formulier ze toonde." in (
        said
    )
    assert "Eén slot voor meer dan één accommodatie: Chalet 20: chalet-20, pool." in said


def test_a_paste_finds_objects_by_id_or_name_and_refuses_one_the_host_lacks(
    client: Any, host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    host.objects.update({"chalet-4": "Chalet 4"})
    logged_in(client)
    page = client.get("/?tab=mapping&lang=nl").data.decode()
    refused = html.unescape(
        _post(
            client, page, action="import", mapping_import="chalet 4;Chalet 12\nchalet-99;Chalet 13"
        ).data.decode()
    )
    assert "Regel 2: hier heet geen accommodatie 'chalet-99'." in refused
    assert "mapping" not in park.integrations[INTEGRATION]  # a new key is never made up
    assert _post(
        client, page, action="import", mapping_import="Chalet 4;Chalet 12"
    ).status_code == (302)
    assert park.integrations[INTEGRATION]["mapping"] == {"chalet-4": first_lock(sandbox).id}


def test_mapping_a_lock_on_an_idle_iq_warns_at_once(
    client: Any, host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    """Chalet 12's IQ is not activated: the admin hears it when saving, with the IQ shown
    in the row, not from the first guest at the door."""
    host.objects["chalet-12"] = "Chalet 12"
    logged_in(client)
    page = client.get("/?tab=mapping&lang=nl").data.decode()
    lock = first_lock(sandbox)
    _post(client, page, action="save", **{"lock:chalet-12": lock.id})
    after = client.get("/?tab=mapping&lang=nl").data.decode()
    assert 'id="warning"' in after and "Nog niet geactiveerd: Chalet 12" in after
    assert f"{lock.iq.name}: niet geactiveerd" in after


def test_saving_the_mapping_tab_keeps_an_objects_further_doors(
    client: Any, host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    """An object mapped to its doors (the chalet, then its shed) shows its own lock in the
    row; saving the tab changes that first lock only, never drops the shed."""
    assert sandbox.site is not None
    shed = next(lock for lock in sandbox.site.locks.values() if lock.name == "Bike shed")
    other = first_lock(sandbox, "Chalet 13")
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": [mapped.id, shed.id]}
    host.objects["chalet-12"] = "Chalet 12"
    logged_in(client)
    page = client.get("/?tab=mapping&lang=nl").data.decode()
    assert _selected(page)["lock:chalet-12"] == mapped.id
    _post(client, page, action="save", **{"lock:chalet-12": other.id})
    assert park.integrations[INTEGRATION]["mapping"] == {"chalet-12": [other.id, shed.id]}


def test_forget_iq_asks_first_naming_the_iq_and_what_follows(
    client: Any, park: Park, mapped: Any
) -> None:
    """ "Forget IQ" was one click: the IQ's secret and PIN were gone. The page asks first,
    names the IQ and says that GET PIN is not possible afterwards; only "yes" forgets."""
    web = logged_in(client)
    page = web.get("/?tab=iq_otp&lang=en")
    token = csrf_of(page.data)
    asked = web.post(
        "/save?tab=iq_otp&lang=en",
        data={"csrf_token": token, "action": f"forget_iq:{mapped.iq.id}"},
    )
    assert asked.status_code == 200 and b'id="forget-question"' in asked.data
    assert mapped.iq.name.encode() in asked.data and b"GET PIN is then no longer" in asked.data
    assert park.integrations[INTEGRATION]["iqs"][mapped.iq.id]["secret"]  # not yet
    done = web.post(
        "/save?tab=iq_otp&lang=en",
        data={
            "csrf_token": csrf_of(asked.data),
            "action": f"forget_iq:{mapped.iq.id}",
            "confirmed": "yes",
        },
    )
    assert done.status_code == 302
    assert park.integrations[INTEGRATION]["iqs"][mapped.iq.id] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("minutes_before", "²"),  # a digit to str.isdigit, not to int()
        ("minutes_after", "9" * 5000),  # more digits than int() takes
    ],
)
def test_a_number_that_is_no_number_is_a_400_naming_the_field(
    client: Any, park: Park, field: str, value: str
) -> None:
    """They were 500s."""
    web = logged_in(client)
    token = csrf_of(web.get("/?tab=details&lang=en").data)
    answer = web.post(
        "/save?tab=details&lang=en", data={"csrf_token": token, "action": "save", field: value}
    )
    assert answer.status_code == 400
    assert b"minutes" in answer.data.lower()
    assert park.integrations[INTEGRATION].get(field) != value


def test_a_login_token_outside_ascii_is_a_wrong_token_not_a_500(client: Any) -> None:
    answer = client.post(
        "/login", data={"token": "tökén", "csrf_token": csrf_of(client.get("/login").data)}
    )
    assert answer.status_code == 400 and b"Wrong login token" in answer.data


def test_the_session_ends_when_idle_on_logout_and_is_bound_to_its_port(
    host: ReferenceHost, park: Park
) -> None:
    """A session had no end and no logout, and a cookie that reached a listener on another
    loopback port opened a door through /open-a-door when replayed from there. Now: idle
    for 30 minutes, "Log out", or the cookie presented at another port: log in again; and
    the cookie's name holds a secret of this start."""
    from ireserve_salto_plugin.reference.admin_web import create_app

    now = [1_000.0]
    app = create_app(host, park, token=TOKEN, clock=lambda: now[0])
    assert app.config["SESSION_COOKIE_NAME"].startswith("salto-admin-")
    other = create_app(host, park, token=TOKEN)
    assert other.config["SESSION_COOKIE_NAME"] != app.config["SESSION_COOKIE_NAME"]
    web = app.test_client()
    port = {"base_url": "http://127.0.0.1:8123"}
    token = csrf_of(web.get("/login", **port).data)
    assert web.post("/login", data={"token": TOKEN, "csrf_token": token}, **port).status_code == 302
    assert web.get("/open-a-door", **port).status_code == 200
    elsewhere = web.get("/open-a-door", base_url="http://127.0.0.1:9999")  # another port
    assert elsewhere.status_code == 302 and "/login" in elsewhere.headers["Location"]
    assert web.get("/open-a-door", **port).status_code == 302  # that session is over
    token = csrf_of(web.get("/login", **port).data)
    web.post("/login", data={"token": TOKEN, "csrf_token": token}, **port)
    now[0] += 29 * 60
    assert web.get("/open-a-door", **port).status_code == 200  # a request: not idle
    now[0] += 31 * 60
    assert web.get("/open-a-door", **port).status_code == 302  # idle for 31 minutes
    token = csrf_of(web.get("/login", **port).data)
    web.post("/login", data={"token": TOKEN, "csrf_token": token}, **port)
    page = web.get("/?tab=details&lang=en", **port)
    assert b'id="logout"' in page.data
    assert web.post("/logout", data={"csrf_token": csrf_of(page.data)}, **port).status_code == 302
    assert web.get("/open-a-door", **port).status_code == 302


def test_on_the_sandbox_the_page_says_where_the_pin_e_mail_is(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    """GET PIN sends Salto's e-mail to the sandbox's outbox: the page links to it."""
    import requests

    from ireserve_salto_plugin.reference.admin_web import create_app

    outbox = f"{sandbox.api_url}/_sandbox/outbox"
    client = logged_in(create_app(host, park, token=TOKEN, mailbox=outbox).test_client())
    page = client.get("/?tab=iq_otp&lang=nl").data.decode()
    assert f'href="{outbox}"' in page and "Sandbox-postvak (PIN-e-mails)" in page
    lock = first_lock(sandbox)
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=lock.iq.id).ok
    mails = requests.get(outbox, timeout=10).json()
    assert [mail["iq_id"] for mail in mails] == [lock.iq.id]


def test_the_booking_page_explains_in_the_page_s_language_with_words_not_codes(
    client: Any, host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    """The explainer came in the language of the last POST (en and de pages in Dutch), its
    steps labelled with raw codes (``lock_exists``); Salto's own words go behind a toggle."""
    park.locale = "nl"
    start = sandbox.clock.utcnow() - timedelta(hours=1)
    host.add_booking(Booking("B-7", "chalet-12", "confirmed", start, start + timedelta(days=2)))
    logged_in(client)
    page = html.unescape(client.get("/booking/B-7?lang=en").data.decode())
    assert "Lock at Salto" in page and "lock_exists" not in page.split('id="explainer"')[1]
    assert "Nu openen zou lukken" not in page and park.locale == "nl"  # a GET changes nothing
    german = html.unescape(client.get("/booking/B-7?lang=de").data.decode())
    from ireserve_salto_plugin.park.i18n import word

    label = word("web admin", "Lock at Salto", "de")
    assert label != "Lock at Salto" and label in german.split('id="explainer"')[1]
    sandbox.inject("PATCH", "/locking$", status=503)
    token = csrf_of(client.get("/booking/B-7?lang=nl").data)
    opened = html.unescape(
        client.post(
            "/open/B-7?lang=nl", data={"csrf_token": token, "confirmed": "yes"}
        ).data.decode()
    )
    assert 'id="technical"' in opened and "technische details" in opened
    assert "Details:" not in opened


def test_a_staff_open_without_a_reason_is_refused_before_the_confirmation(
    client: Any, host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    logged_in(client)
    token = csrf_of(client.get("/open-a-door?lang=nl").data)
    asked = html.unescape(
        client.post(
            "/open-a-door?lang=nl", data={"csrf_token": token, "lock_id": mapped.id, "reason": ""}
        ).data.decode()
    )
    assert 'id="confirm-question"' not in asked and "reason:" in asked
    assert sandbox.call_count("PATCH") == 0


def test_a_list_of_names_is_never_cut_silently() -> None:
    from ireserve_salto_plugin.reference.admin_forms import names_and_more

    names = [f"Chalet {n}" for n in range(1, 13)]
    assert names_and_more(names, "nl").endswith("Chalet 10 en 2 andere")
    assert names_and_more(names[:3], "de") == "Chalet 1, Chalet 2, Chalet 3"


def test_the_bookings_page_shows_the_stay_and_the_status_in_words(
    client: Any, host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    start = sandbox.clock.utcnow() + timedelta(days=2)
    host.objects["chalet-12"] = "Chalet 12"
    host.add_booking(Booking("B-9", "chalet-12", "confirmed", start, start + timedelta(days=3)))
    logged_in(client)
    page = html.unescape(client.get("/bookings?lang=nl").data.decode())
    row = page.split('id="booking-B-9"', 1)[1].split("</tr>", 1)[0]
    assert "Chalet 12" in row and "Bevestigd" in row and "confirmed" not in row
    assert " – " in row and ":" in row  # from … to …, with the times


def test_the_iq_tab_has_a_test_open_that_asks_first_and_honours_staff_opens(
    client: Any, host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    """The cloud check tells admins to do a test open: the IQ tab has the button, asks
    first naming the lock, and has none when the park switched staff opens off."""
    logged_in(client)
    page = html.unescape(client.get("/?tab=iq_otp&lang=nl").data.decode())
    assert 'id="test-open-' in page and "Een testopening" in page
    # the help says what the tab lists: every IQ of the site, activated or not
    assert "De IQ-gateways van de site en of elk voor dit account is geactiveerd" in page
    # a message's findings stand on lines of their own, not run into one paragraph
    assert "white-space:pre-line" in page
    data = {"csrf_token": csrf_of(page.encode()), "action": f"test_open:{mapped.iq.id}"}
    asked = html.unescape(client.post("/save?tab=iq_otp&lang=nl", data=data).data.decode())
    assert 'id="test-open-question"' in asked and sandbox.call_count("PATCH") == 0
    done = client.post("/save?tab=iq_otp&lang=nl", data={**data, "confirmed": "yes"})
    assert done.status_code == 302 and sandbox.call_count("PATCH") == 1
    park.integrations[INTEGRATION] = {
        **park.integrations[INTEGRATION],
        "staff_open_enabled": False,
    }
    off = client.get("/?tab=iq_otp&lang=nl").data.decode()
    assert 'id="test-open-' not in off
