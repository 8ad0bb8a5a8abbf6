"""The dashboard in a real headless Chromium, driven by Selenium, against real servers.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Where they
are missing the module skips, saying what to install; under CI (`CI` set) it fails
instead, since CI must prove the page works.

One browser serves the whole module. With `SCREENSHOTS=<dir>` (`make screenshots`:
docs/images), the tests also save pictures of the main views there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle
from tests.origins import Origin

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    _MISSING = (
        "no headless browser: the dashboard's browser tests need Chromium and its driver "
        "(Debian: apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{_MISSING}; CI must run them", pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)

from selenium import webdriver  # noqa: E402 (only where a browser exists)
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

#: How long the page may take to show what the server already knows (a loaded machine).
SETTLE = 10.0
SCREENSHOTS = os.environ.get("SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,800",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def open_session(browser: WebDriver, server: ThreadedServer, sid: str) -> None:
    browser.set_window_size(1280, 800)
    browser.get("about:blank")  # a fresh page: only the hash would differ from the last
    browser.get(f"{server.admin_url}/ui#session={sid}")
    wait_for(browser, lambda: f"Session {sid}" in text(browser, "#session-title"))


def wait_for(browser: WebDriver, condition: Any, timeout: float = SETTLE) -> Any:
    # The page rebuilds a table when a poll brings news: an element found a moment ago
    # may be gone, and the next try finds its successor.
    wait = WebDriverWait(
        browser, timeout, poll_frequency=0.02, ignored_exceptions=[StaleElementReferenceException]
    )
    return wait.until(lambda _: condition())


def text(browser: WebDriver, selector: str) -> str:
    """The rendered text of the first element `selector` finds ("" for none), read at once."""
    script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''"
    found: str = browser.execute_script(script, selector)
    return found.strip()


def tab(browser: WebDriver, name: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f"[data-tab={name}]").click()


def entry(browser: WebDriver, list_id: str, seq: int) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, f"#{list_id} li[data-seq='{seq}'] button.entry")


def journal(cp: SessionHandle, **query: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{cp.api}/requests", params=query, timeout=10)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["requests"]
    return entries


def journal_mode(browser: WebDriver) -> str | None:
    """How the page follows the journal: `stream`, `polling`, `connecting` or `paused`."""
    mode: str | None = browser.execute_script("return document.body.dataset.journal")
    return mode


def screenshot(browser: WebDriver, name: str, width: int = 1280, height: int = 800) -> None:
    if not SCREENSHOTS:
        return
    browser.set_window_size(width, height)
    Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))
    browser.set_window_size(1280, 800)


def test_the_routes_of_a_session_are_listed_with_hits_and_times_left(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    users = cp.add_route(
        method="GET",
        path="/users/{id}",
        handler="get_user",
        times=3,
        response={"type": "json", "status": 200, "body": {"id": 1, "name": "Ada"}},
    )
    orders = cp.add_route(method="POST", path="/orders", handler="create_order", priority=2)
    assert requests.get(f"{cp.mock_url}/users/1", timeout=10).status_code == 200
    open_session(browser, cp_server, cp.id)

    def row(route_id: str) -> list[str]:
        cells = browser.find_elements(By.CSS_SELECTOR, f"tr[data-route-id='{route_id}'] td")
        return [cell.text for cell in cells]

    wait_for(
        browser, lambda: row(users["id"])[:6] == ["GET", "/users/{id}", "get_user", "5", "1", "2"]
    )
    assert row(orders["id"])[:6] == ["POST", "/orders", "create_order", "2", "0", "∞"]
    tab(browser, "handlers")
    wait_for(browser, lambda: "get_user" in text(browser, "#handlers"))
    handlers = text(browser, "#handlers")
    assert '"name": "Ada"' in handlers
    assert "none registered (answers 500 no_response)" in handlers
    tab(browser, "routes")
    screenshot(browser, "routes")


def test_a_new_request_appears_within_a_second_without_reload(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    cp.add_route(method="GET", path="/ping", handler="ping", response={"type": "json"})
    open_session(browser, cp_server, cp.id)
    tab(browser, "journal")
    wait_for(browser, lambda: text(browser, "#journal-empty") == "No requests yet.")
    # Over the journal's event stream, not the polling fallback.
    wait_for(browser, lambda: journal_mode(browser) == "stream")
    assert text(browser, "#journal-status") == (
        "Live: new requests arrive over the journal's event stream."
    )
    browser.execute_script("window.notReloaded = true")
    for round_ in range(3):
        sent = time.monotonic()
        assert requests.get(f"{cp.mock_url}/ping?n={round_}", timeout=10).status_code == 200
        seq = journal(cp)[-1]["seq"]
        wait_for(
            browser,
            lambda seq=seq: browser.find_elements(
                By.CSS_SELECTOR, f"#journal li[data-seq='{seq}']"
            ),
        )
        shown = time.monotonic() - sent
        assert shown < 1.0, f"request {round_} took {shown:.2f} s to appear"
    assert browser.execute_script("return window.notReloaded") is True
    assert text(browser, f"#journal li[data-seq='{seq}']").startswith("GET\n/ping?n=2\n200")
    assert journal_mode(browser) == "stream"


def test_without_its_stream_the_journal_polls_and_says_so(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    # The page's fetch() of the stream fails (as behind a proxy that refuses streams).
    block = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "const f = window.fetch; window.fetch = (url, options) => "
            "String(url).includes('/requests/stream') "
            "? Promise.reject(new TypeError('blocked by the test')) : f(url, options);"
        },
    )
    try:
        open_session(browser, cp_server, cp.id)
        tab(browser, "journal")
        wait_for(browser, lambda: journal_mode(browser) == "polling")
        assert text(browser, "#journal-status") == (
            "Polling every 250 ms: the journal's event stream failed (blocked by the test); "
            "trying it again every 2 s."
        )
        sent = time.monotonic()
        requests.get(f"{cp.mock_url}/polled", timeout=10)
        seq = journal(cp)[-1]["seq"]
        wait_for(
            browser,
            lambda: browser.find_elements(By.CSS_SELECTOR, f"#journal li[data-seq='{seq}']"),
        )
        assert time.monotonic() - sent < 1.0
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": block["identifier"]}
        )


def test_every_session_shows_its_counts(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    other = requests.post(f"{cp_server.admin_url}/api/sessions", json={}, timeout=10).json()
    try:
        route = {"method": "GET", "path": "/known", "handler": "known"}
        added = requests.post(f"{other['admin_url']}/routes", json=route, timeout=10)
        assert added.status_code == 201
        for path in ("/known", "/unknown", "/unknown"):
            requests.get(f"{other['mock_url']}{path}", timeout=10)
        open_session(browser, cp_server, cp.id)
        counts = f"button[data-sid='{other['id']}'] .counts"
        wait_for(browser, lambda: text(browser, counts) == "1 routes · 3 requests · 2 unmatched")
        assert text(browser, f"button[data-sid='{cp.id}'] .counts") == (
            "0 routes · 0 requests · 0 unmatched"
        )
    finally:
        requests.delete(other["admin_url"], timeout=10)


def test_a_scenario_is_put_in_a_state_and_reset_from_the_page(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    for state, new_state in (("Started", "paid"), ("paid", "shipped")):
        cp.add_route(
            method="POST",
            path=f"/{new_state}",
            handler=new_state,
            scenario={"name": "order", "required_state": state, "new_state": new_state},
        )

    def scenario() -> dict[str, Any]:
        answer = requests.get(f"{cp.api}/scenarios", timeout=10)
        (found,) = answer.json()["scenarios"]
        return dict(found)

    open_session(browser, cp_server, cp.id)
    tab(browser, "scenarios")
    select = "#scenarios tr[data-scenario='order'] select"
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, select))
    options = browser.find_elements(By.CSS_SELECTOR, f"{select} option")
    assert [o.text for o in options] == scenario()["possible_states"]
    Select(browser.find_element(By.CSS_SELECTOR, select)).select_by_value("paid")
    wait_for(browser, lambda: "is now in state paid" in text(browser, "#scenario-result"))
    assert scenario()["state"] == "paid"
    screenshot(browser, "scenarios")
    browser.find_element(By.ID, "scenarios-reset").click()
    wait_for(browser, lambda: "back to Started" in text(browser, "#scenario-result"))
    assert scenario()["state"] == "Started"
    wait_for(
        browser,
        lambda: browser.find_element(By.CSS_SELECTOR, select).get_attribute("value") == "Started",
    )


def test_the_journal_filters_by_handler_matched_method_and_path_text(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    cp.add_route(method="GET", path="/a/list", handler="list_a", response={"type": "json"})
    cp.add_route(method="POST", path="/b/items", handler="add_b", response={"type": "json"})
    requests.get(f"{cp.mock_url}/a/list", timeout=10)
    requests.post(f"{cp.mock_url}/b/items", json={}, timeout=10)
    requests.get(f"{cp.mock_url}/c/nothing", timeout=10)
    seqs = {e["path"]: e["seq"] for e in journal(cp)}
    open_session(browser, cp_server, cp.id)
    tab(browser, "journal")
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#journal li")) == 3)
    # The handler list arrives with the session's refresh.
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "option[value=add_b]"))

    def shown() -> set[str]:
        items = browser.find_elements(By.CSS_SELECTOR, "#journal li")
        by_seq = {str(seq): path for path, seq in seqs.items()}
        return {by_seq[i.get_attribute("data-seq") or ""] for i in items if i.is_displayed()}

    form = browser.find_element(By.ID, "filters")
    form.find_element(By.CSS_SELECTOR, "[name=handler] option[value=add_b]").click()
    assert shown() == {"/b/items"}
    form.find_element(By.CSS_SELECTOR, "[name=handler] option[value='']").click()
    form.find_element(By.CSS_SELECTOR, "[name=matched] option[value=false]").click()
    assert shown() == {"/c/nothing"}
    form.find_element(By.CSS_SELECTOR, "[name=matched] option[value=true]").click()
    assert shown() == {"/a/list", "/b/items"}
    form.find_element(By.CSS_SELECTOR, "[name=method]").send_keys("get")
    assert shown() == {"/a/list"}
    form.find_element(By.CSS_SELECTOR, "[name=method]").clear()
    form.find_element(By.CSS_SELECTOR, "[name=matched] option[value='']").click()
    form.find_element(By.CSS_SELECTOR, "[name=path]").send_keys("/b/")
    assert shown() == {"/b/items"}
    form.find_element(By.CSS_SELECTOR, "[name=path]").send_keys("zzz")
    assert shown() == set()
    assert text(browser, "#journal-empty") == "No request passes these filters."


def test_an_unmatched_request_shows_its_near_miss_diff(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    route = cp.add_route(
        method="GET",
        path="/users/{id}",
        handler="tenant_user",
        match={"headers": {"X-Tenant": "acme"}},
        response={"type": "json"},
    )
    answer = requests.get(f"{cp.mock_url}/users/7", headers={"X-Tenant": "globex"}, timeout=10)
    assert answer.status_code == 404
    unmatched = requests.get(f"{cp.api}/requests/unmatched", timeout=10).json()["requests"]
    (request,) = unmatched
    (miss,) = request["near_misses"]
    assert miss["route_id"] == route["id"]
    open_session(browser, cp_server, cp.id)
    tab(browser, "unmatched")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#unmatched table.diff"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#unmatched table.diff tbody tr")
    shown = [[cell.text for cell in r.find_elements(By.TAG_NAME, "td")] for r in rows]
    assert shown == [[d["field"], d["expected"], d["actual"]] for d in miss["diffs"]]
    assert any(d["field"] == "header X-Tenant" for d in miss["diffs"])
    # Expected and actual are told apart by colour, not only by column.
    expected = browser.find_element(By.CSS_SELECTOR, "#unmatched td.expected")
    actual = browser.find_element(By.CSS_SELECTOR, "#unmatched td.actual")
    assert expected.value_of_css_property("background-color") != actual.value_of_css_property(
        "background-color"
    )
    assert f"Near miss: route {route['id']} (handler tenant_user)" in text(browser, "#unmatched")
    counts = f"button[data-sid='{cp.id}'] .counts"
    wait_for(browser, lambda: text(browser, counts) == "1 routes · 1 requests · 1 unmatched")
    # The request opened shows them too.
    entry(browser, "unmatched", request["seq"]).click()
    wait_for(browser, lambda: "Near misses" in text(browser, "#detail-body"))
    screenshot(browser, "unmatched")


def test_copy_as_curl_reproduces_the_request(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("no curl to run the copied command with (apt-get install curl)")
    cp.add_route(method="POST", path="/orders", handler="create_order", response={"type": "json"})
    body = {"item": 'it\'s a "quote"', "n": [1, 2]}
    requests.post(
        f"{cp.mock_url}/orders?ref=a%20b&ref=c",
        json=body,
        headers={"X-Trace": "t-1", "Cookie": "sid=x"},
        timeout=10,
    )
    (original,) = journal(cp)
    open_session(browser, cp_server, cp.id)
    tab(browser, "journal")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#journal li"))
    entry(browser, "journal", original["seq"]).click()
    wait_for(browser, lambda: text(browser, "#curl").startswith("curl"))
    # Pretty-printed JSON body in the opened request.
    assert text(browser, "#detail-request-body") == (
        '{\n  "item": "it\'s a \\"quote\\"",\n  "n": [\n    1,\n    2\n  ]\n}'
    )
    browser.find_element(By.ID, "copy-curl").click()
    wait_for(browser, lambda: text(browser, "#copy-curl") in {"Copied", "Selected: press Ctrl+C"})
    screenshot(browser, "request")
    command = text(browser, "#curl")
    run = subprocess.run(["sh", "-c", command + " -sS"], capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr
    again = journal(cp)[-1]
    assert again["seq"] != original["seq"]
    for field in ("method", "path", "query", "body", "json", "handler"):
        assert again[field] == original[field], field

    def sent(entry: dict[str, Any]) -> dict[str, str]:
        return {name.lower(): value for name, value in entry["headers"]}

    for name in ("x-trace", "cookie", "content-type", "user-agent"):
        assert sent(again)[name] == sent(original)[name], name


def test_a_route_made_from_a_request_answers_on_the_mock_port(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    assert requests.get(f"{cp.mock_url}/health/deep?verbose=1", timeout=10).status_code == 404
    (request,) = journal(cp)
    open_session(browser, cp_server, cp.id)
    tab(browser, "journal")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#journal li"))
    entry(browser, "journal", request["seq"]).click()
    browser.find_element(By.ID, "make-route").click()
    form = browser.find_element(By.ID, "route-form")
    assert form.is_displayed()

    def field(name: str) -> WebElement:
        return form.find_element(By.CSS_SELECTOR, f"[name={name}]")

    assert field("method").get_attribute("value") == "GET"
    assert field("path").get_attribute("value") == "/health/deep"
    assert field("handler").get_attribute("value") == "get_health_deep"
    assert field("match").get_attribute("value") == '{"query":{"verbose":"1"}}'
    field("response").clear()
    field("response").send_keys('{"type": "json", "status": 203, "body": {"deep": true}}')
    screenshot(browser, "route-form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda: text(browser, "#route-result").startswith("Added route "))
    answer = requests.get(f"{cp.mock_url}/health/deep?verbose=1", timeout=10)
    assert (answer.status_code, answer.json()) == (203, {"deep": True})
    # A refused route says why, with the field.
    field("response").clear()
    field("response").send_keys('{"type": "json", "status": 9999}')
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda: text(browser, "#route-result").startswith("Refused: "))
    assert "$.response" in text(browser, "#route-result")


def test_a_route_edited_on_the_page_keeps_its_id_place_and_scenario(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    first = cp.add_route(
        method="GET",
        path="/cart",
        handler="cart",
        scenario={"name": "shop", "required_state": "Started"},
        response={"type": "json", "body": {"items": 0}},
    )
    second = cp.add_route(method="GET", path="/other", handler="other")
    open_session(browser, cp_server, cp.id)
    edit = f"tr[data-route-id='{first['id']}'] button.edit"
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, edit))
    browser.find_element(By.CSS_SELECTOR, edit).click()
    form = browser.find_element(By.ID, "route-form")
    assert text(browser, "#route-form-title") == f"Edit route {first['id']}"
    response = form.find_element(By.CSS_SELECTOR, "[name=response]")
    assert '"items": 0' in (response.get_attribute("value") or "")
    response.clear()
    response.send_keys('{"type": "json", "status": 201, "body": {"items": 2}}')
    form.find_element(By.CSS_SELECTOR, "[name=path]").send_keys("/{id}")
    form.find_element(By.ID, "route-submit").click()
    wait_for(browser, lambda: text(browser, "#route-result") == f"Saved route {first['id']}.")
    assert text(browser, "#route-form-title") == "Add a route"
    routes = requests.get(f"{cp.api}/routes", timeout=10).json()["routes"]
    assert [r["id"] for r in routes] == [first["id"], second["id"]]
    assert routes[0]["path"] == "/cart/{id}"
    assert routes[0]["scenario"] == first["scenario"]
    answer = requests.get(f"{cp.mock_url}/cart/9", timeout=10)
    assert (answer.status_code, answer.json()) == (201, {"items": 2})


def test_copy_as_curl_reproduces_a_binary_body(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("no curl to run the copied command with (apt-get install curl)")
    cp.add_route(method="PUT", path="/blob", handler="blob", response={"type": "json"})
    body = bytes(range(256)) * 3
    requests.put(
        f"{cp.mock_url}/blob",
        data=body,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    (original,) = journal(cp)
    assert original["body"] is None  # not text: the page must send the bytes themselves
    open_session(browser, cp_server, cp.id)
    tab(browser, "journal")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#journal li"))
    entry(browser, "journal", original["seq"]).click()
    wait_for(browser, lambda: text(browser, "#curl").startswith("echo "))
    run = subprocess.run(["sh", "-c", text(browser, "#curl") + " -sS"], capture_output=True)
    assert run.returncode == 0, run.stderr
    again = journal(cp)[-1]
    assert again["seq"] != original["seq"]
    assert again["body_base64"] == original["body_base64"]
    assert (again["method"], again["path"]) == ("PUT", "/blob")


def test_a_handlers_response_is_registered_from_the_page(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    cp.add_route(method="GET", path="/first", handler="first")
    cp.add_route(method="GET", path="/stock", handler="stock")
    assert requests.get(f"{cp.mock_url}/stock", timeout=10).status_code == 500
    open_session(browser, cp_server, cp.id)
    tab(browser, "handlers")
    edit = "button[aria-label='Edit the response of stock']"
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, edit))
    browser.find_element(By.CSS_SELECTOR, edit).click()
    form = browser.find_element(By.ID, "response-form")
    assert form.find_element(By.CSS_SELECTOR, "[name=handler]").get_attribute("value") == "stock"
    response = form.find_element(By.CSS_SELECTOR, "[name=response]")
    response.clear()
    response.send_keys('{"type": "json", "status": 200, "body": {"left": 3}}')
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda: text(browser, "#response-result") == "Saved the response of stock.")
    answer = requests.get(f"{cp.mock_url}/stock", timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"left": 3})
    wait_for(browser, lambda: '"left": 3' in text(browser, "#handlers"))
    assert requests.get(f"{cp.mock_url}/first", timeout=10).status_code == 500
    screenshot(browser, "handlers")


def test_a_recording_is_started_and_stopped_from_the_page(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    with Origin() as origin:
        open_session(browser, cp_server, cp.id)
        tab(browser, "recording")
        wait_for(browser, lambda: text(browser, "#recording-status") == "Not recording.")
        assert not browser.find_element(By.ID, "recording-stop").is_enabled()
        form = browser.find_element(By.ID, "recording-form")
        form.find_element(By.CSS_SELECTOR, "[name=target]").send_keys(origin.url)
        browser.find_element(By.ID, "recording-start").click()
        recording = f"Recording to {origin.url}: 0 exchanges captured."
        wait_for(browser, lambda: text(browser, "#recording-status") == recording)
        answer = requests.get(f"{cp.mock_url}/json/cat?size=2", timeout=10)
        assert answer.status_code == 200
        recorded = answer.json()
        wait_for(
            browser,
            lambda: text(browser, "#recording-status").endswith(": 1 exchange captured."),
        )
        browser.find_element(By.ID, "recording-stop").click()
        wait_for(
            browser,
            lambda: (
                text(browser, "#recording-result") == "Stopped: 1 route made, 0 exchanges skipped."
            ),
        )
        # The page shows the result first, then reads the session again.
        wait_for(browser, lambda: text(browser, "#recording-status") == "Not recording.")
    # The origin is gone: the route made from its answer answers.
    (route,) = requests.get(f"{cp.api}/routes", timeout=10).json()["routes"]
    assert (route["method"], route["path"]) == ("GET", "/json/cat")
    again = requests.get(f"{cp.mock_url}/json/cat?size=2", timeout=10)
    assert (again.status_code, again.json()) == (200, recorded)
    tab(browser, "routes")
    wait_for(
        browser,
        lambda: browser.find_elements(By.CSS_SELECTOR, f"tr[data-route-id='{route['id']}']"),
    )


def test_a_route_is_deleted_from_the_page(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    route = cp.add_route(method="GET", path="/gone", handler="gone", response={"type": "json"})
    open_session(browser, cp_server, cp.id)
    selector = f"tr[data-route-id='{route['id']}'] button.delete"
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, selector))
    browser.find_element(By.CSS_SELECTOR, selector).click()
    browser.switch_to.alert.accept()
    wait_for(browser, lambda: not browser.find_elements(By.CSS_SELECTOR, selector))
    assert requests.get(f"{cp.api}/routes", timeout=10).json() == {"routes": []}


def test_the_narrow_window_shows_the_journal_and_a_request(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    cp.add_route(method="GET", path="/items", handler="items", response={"type": "json"})
    requests.get(f"{cp.mock_url}/items?page=2", timeout=10)
    (request,) = journal(cp)
    open_session(browser, cp_server, cp.id)
    browser.set_window_size(420, 800)
    tab(browser, "journal")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#journal li"))
    entry(browser, "journal", request["seq"]).click()
    wait_for(browser, lambda: text(browser, "#curl").startswith("curl"))
    # Nothing is wider than the window: no sideways scrolling.
    width = browser.execute_script("return document.documentElement.scrollWidth")
    inner = browser.execute_script("return window.innerWidth")
    assert width <= inner
    screenshot(browser, "narrow", 420, 800)


def test_a_link_to_another_session_switches_to_it_and_escape_closes_a_request(
    browser: WebDriver, cp_server: ThreadedServer, cp: SessionHandle
) -> None:
    requests.get(f"{cp.mock_url}/here", timeout=10)
    (request,) = journal(cp)
    open_session(browser, cp_server, "default")
    browser.execute_script("window.notReloaded = true")
    browser.execute_script("location.hash = arguments[0]", f"session={cp.id}")
    wait_for(browser, lambda: text(browser, "#session-title") == f"Session {cp.id}")
    tab(browser, "journal")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#journal li"))
    entry(browser, "journal", request["seq"]).send_keys(Keys.ENTER)
    wait_for(browser, lambda: browser.find_element(By.ID, "detail").is_displayed())
    assert text(browser, "#detail-title") == "GET /here"
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_for(browser, lambda: not browser.find_element(By.ID, "detail").is_displayed())
    assert browser.execute_script("return window.notReloaded") is True


def test_the_page_asks_for_the_admin_token_once_and_keeps_it(browser: WebDriver) -> None:
    with ThreadedServer(ServerConfig(port=0, admin_port=0, admin_token="t0ken")) as server:
        browser.get(f"{server.admin_url}/ui")
        wait_for(browser, lambda: browser.find_element(By.ID, "token-form").is_displayed())
        token = browser.find_element(By.ID, "token")
        token.send_keys("wrong")
        token.submit()
        wait_for(browser, lambda: "refused" in text(browser, "#banner"))
        token = browser.find_element(By.ID, "token")
        token.clear()
        token.send_keys("t0ken")
        token.submit()
        wait_for(browser, lambda: "Session default" in text(browser, "#session-title"))
        assert not browser.find_element(By.ID, "token-form").is_displayed()
        assert not browser.find_element(By.ID, "banner").is_displayed()
        # The journal's stream carries the token too (EventSource could not).
        wait_for(browser, lambda: journal_mode(browser) == "stream")
        stored = "return sessionStorage.getItem('controlplane.admin-token')"
        assert browser.execute_script(stored) == "t0ken"
        # A reload in the same tab does not ask again.
        browser.refresh()
        wait_for(browser, lambda: "Session default" in text(browser, "#session-title"))
        assert not browser.find_element(By.ID, "token-form").is_displayed()


def test_the_page_says_plainly_when_the_server_is_unreachable(browser: WebDriver) -> None:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
    try:
        browser.get(f"{server.admin_url}/ui")
        wait_for(browser, lambda: "Session default" in text(browser, "#session-title"))
        host = server.admin_url.removeprefix("http://")
    finally:
        server.stop()
    wait_for(browser, lambda: browser.find_element(By.ID, "banner").is_displayed())
    assert text(browser, "#banner").startswith(
        f"The controlplane server at {host} is unreachable ("
    )
    screenshot(browser, "unreachable")
