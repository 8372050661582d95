"""Accessibility (issue 25 item 4): every page each role may open, checked by axe-core in
the real headless Chromium, and the login, the people list and a person's page used by
keyboard alone.

The pages come from the application's own GET routes and roles.py's ACCESS table, so a
page added later is checked without touching this file (a route with a path parameter
needs a sample in SAMPLES, and the walk fails until it has one). axe.min.js is the
npm package that .ci/install-tools installs into tests/web/node_modules; it is injected
through WebDriver, which runs as the browser's driver: the pages' Content-Security-Policy
(no inline or foreign script) stays as it is and is checked to be in force.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from gateway.config import load_config
from gateway.domain import UnknownSwipe
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from gateway.store.tables import ACCOUNT_ROLES
from gateway.web import roles
from gateway.web.app import create_app
from gateway.web.security import hash_password
from tests.store.support import sql
from tests.web.stack import ADMIN, PASSWORD, Stack, _event, new_browser, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.web]

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}

PW = "a good long password"
ACCOUNTS: dict[str | None, tuple[str, str] | None] = {
    "admin": (ADMIN, PASSWORD),
    "hr": ("rrhh", PW),
    "inspector": ("itss", PW),
    "representative": ("comite", PW),
    "worker": ("eva", PW),
    None: None,  # signed out
}
# GET routes that are no page: the walk leaves them out, saying why.
NOT_PAGES = {
    "/events": "the board's event stream",
    "/cards/unknown/events": "the unknown cards' event stream",
    "/reports/download": "a file download (CSV, PDF)",
    "/me/download": "the worker's own register or summary, a file download (CSV, PDF)",
}
# A value for each route with a path parameter: a new one fails the walk until added.
SAMPLES = {
    "/people/{uid:path}": "/people/ana.garcia",  # a card, a timetable, a correction
}
# More states of a page than its bare URL shows (a search, a person chosen, a month's
# days, a person without a card).
STATES = {
    "/people": ("/people?q=ruiz&state=active",),
    "/people/{uid:path}": ("/people/marta.ruiz",),
    "/cards/unknown": ("/cards/unknown?q=04c0ff", "/cards/unknown?q=nothing-at-all"),
    "/readers": ("/readers?q=entrance",),
    "/corrections": ("/corrections?uid=luis.nunez", "/corrections?uid=ana.garcia&q=olvid"),
    "/audit": ("/audit?target=ana.garcia",),
    "/reports": ("/reports?uid=luis.nunez",),
}
UNKNOWN_CARD = "04C0FFEE"
SECOND_UNKNOWN = "04C0FFEF"
THIRD_UNKNOWN = "04C0FFF0"


def wait_for(driver: Any, condition: Any, timeout: float, what: str) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        condition, message=f"{what} within {timeout} s"
    )


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `bash .ci/install-tools` installs axe-core (npm ci)")
    return AXE.read_text(encoding="utf-8")


async def _more_states(url: str) -> None:
    """What the seeded stack lacks for every colour of the pages and the board: a card
    nobody holds, someone in who is not scheduled now, a corrected day."""
    stores = Stores.open(url)
    try:
        now = datetime.now(UTC)
        for card in (UNKNOWN_CARD, SECOND_UNKNOWN):
            await stores.swipes.record_unknown(UnknownSwipe(card, "entrance", None, now))
        await stores.swipes.record_events([_event("raul.ortiz", "04C4D4E4", "in", now)])
        fix = await stores.corrections.add_missing(
            "ana.garcia", "in", now - timedelta(minutes=30), "Olvidó fichar", Actor("cli:test")
        )
        # In force only once Ana agrees (issue 22): the board marks only such a day.
        await stores.corrections.decide(
            fix, "accepted", Actor("cli:test"), side="worker", person_uid="ana.garcia"
        )
    finally:
        await stores.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-a11y")
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        web_only=True,
        accounts=[
            ("rrhh", PW, "hr", None),
            ("itss", PW, "inspector", datetime.now(UTC) + timedelta(days=30)),
            ("comite", PW, "representative", None),
        ],
    )
    # A worker's account is tied to their person: seeded straight into the table, as
    # test_roles does (the accounts store does not make one yet).
    sql(
        stack.url,
        "INSERT INTO accounts (username, password_hash, role, person_uid) VALUES (?, ?, ?, ?)",
        ("eva", hash_password(PW), "worker", "eva.martin"),
    )
    try:
        asyncio.run(_more_states(stack.url))
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """One browser for the whole module: each role signs in on it in turn."""
    browser = new_browser()
    try:
        yield browser
    finally:
        browser.quit()


def test_the_walk_signs_in_as_every_role() -> None:
    """A role added to the accounts must be walked too: it needs an account above."""
    assert {role for role in ACCOUNTS if role} == set(ACCOUNT_ROLES)


@pytest.fixture(scope="module")
def get_routes(stack: Stack) -> list[str]:
    """The application's GET routes, each of which roles.ACCESS must list."""
    app = create_app(load_config(str(stack.web.config)), secret="x" * 40)
    paths = [
        route.path
        for route in app.routes
        if "GET" in (getattr(route, "methods", None) or ()) and route.path != "/static"
    ]
    unlisted = [p for p in paths if p not in roles.ACCESS]
    assert not unlisted, f"GET routes missing from roles.ACCESS: {unlisted}"
    stale = sorted(set(NOT_PAGES) - set(paths))
    assert not stale, f"NOT_PAGES lists routes the app no longer has: {stale}"
    return paths


def pages_of(get_routes: list[str], role: str | None) -> list[str]:
    """Every page `role` may open (signed out: None), as URLs to visit."""
    urls: list[str] = []
    unsampled: list[str] = []
    for path in get_routes:
        rule = roles.ACCESS[path]
        if path in NOT_PAGES or not (rule.board or roles.allowed(role, path)):
            continue
        if "{" in path:
            if path not in SAMPLES:
                unsampled.append(path)
                continue
            urls.append(SAMPLES[path])
        else:
            urls.append(path)
        urls.extend(STATES.get(path, ()))
    if unsampled:
        pytest.fail(
            f"routes with a path parameter and no sample value: {unsampled}; "
            "add one to SAMPLES in tests/web/test_accessibility.py"
        )
    return urls


def sign_in(driver: Any, stack: Stack, role: str | None) -> None:
    driver.delete_all_cookies()
    login = ACCOUNTS[role]
    if login is None:
        return
    landing = roles.home(role)  # what each role opens first
    driver.get(f"{stack.web.url}/login?next={landing}")
    driver.find_element(By.NAME, "username").send_keys(login[0])
    driver.find_element(By.NAME, "password").send_keys(login[1])
    driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    wait_for(driver, lambda d: urlsplit(d.current_url).path == landing, 10, f"{role} signed in")


def open_page(driver: Any, stack: Stack, url: str) -> None:
    driver.get(stack.web.url + url)
    landed = urlsplit(driver.current_url)
    assert landed.path == urlsplit(url).path, f"{url} went to {driver.current_url}"
    kind = driver.execute_script("return document.contentType;")
    assert kind == "text/html", f"{url} is {kind}: add it to NOT_PAGES if it is no page"
    if url == "/" or url.startswith("/?"):
        # The board renders its lists in script: checked once they are there.
        wait_for(
            driver,
            lambda d: d.execute_script("return Number(document.body.dataset.version) > 0;"),
            10,
            "the board rendered",
        )


def axe_violations(driver: Any, axe_source: str, tags: list[str]) -> list[dict[str, Any]]:
    """axe-core's violations on the current page, each rule with its failing nodes."""
    if not driver.execute_script("return typeof window.axe === 'object';"):
        driver.execute_script(axe_source)
    driver.set_script_timeout(30)
    answer: dict[str, Any] = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: arguments[0]},
                           resultTypes: ["violations"]})
          .then(r => done({violations: r.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map(n => ({target: n.target.join(" "),
                                        summary: n.failureSummary}))}))}))
          .catch(e => done({error: String(e)}));
        """,
        tags,
    )
    assert "error" not in answer, answer.get("error")
    violations: list[dict[str, Any]] = answer["violations"]
    return violations


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(url: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{url}: {v['id']} ({v['impact']}): {v['help']}")
        lines.extend(f"    {n['target']}  -- {n['summary']}" for n in v["nodes"][:10])
    return "\n".join(lines)


def test_the_pages_keep_their_content_security_policy(stack: Stack, driver: Any) -> None:
    """The injected axe runs as the driver; the page itself still may not run inline
    script (else the check would pass on a page weaker than the one served)."""
    driver.delete_all_cookies()
    open_page(driver, stack, "/login")
    ran = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        window.inlineRan = false;
        document.addEventListener("securitypolicyviolation", () => done("refused"));
        const s = document.createElement("script");
        s.textContent = "window.inlineRan = true;";
        document.head.appendChild(s);
        setTimeout(() => done(window.inlineRan ? "ran" : "silent"), 2000);
        """
    )
    assert ran == "refused"


@pytest.mark.parametrize("role", list(ACCOUNTS), ids=lambda r: r or "signed-out")
def test_every_page_of_every_role_passes_axe(
    stack: Stack, driver: Any, axe_source: str, get_routes: list[str], role: str | None
) -> None:
    sign_in(driver, stack, role)
    urls = pages_of(get_routes, role)
    assert urls, role
    found: list[str] = []
    for url in urls:
        open_page(driver, stack, url)
        bad = blocking(axe_violations(driver, axe_source, WCAG_21_AA))
        if bad:
            found.append(describe(url, bad))
    assert not found, "axe-core, serious or critical:\n" + "\n".join(found)


def test_the_pages_outside_the_walk_pass_axe(stack: Stack, driver: Any, axe_source: str) -> None:
    """The pages no route lists: a refusal, a page not found, a failed login; and the
    board in each of its states, the stale one included."""
    found: list[str] = []

    def check(label: str) -> None:
        bad = blocking(axe_violations(driver, axe_source, WCAG_21_AA))
        if bad:
            found.append(describe(label, bad))

    driver.delete_all_cookies()
    open_page(driver, stack, "/login")
    driver.find_element(By.NAME, "username").send_keys(ADMIN)
    driver.find_element(By.NAME, "password").send_keys("wrong")
    driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".flash.error"), 10, "refused")
    check("/login (refused)")

    sign_in(driver, stack, "hr")
    driver.get(stack.web.url + "/audit")
    assert "403" in driver.title
    check("/audit (403 for hr)")
    driver.get(stack.web.url + "/no-such-page")
    assert "404" in driver.title
    check("/no-such-page (404)")

    # A list while its search runs (admin.js marks it aria-busy until the results come).
    open_page(driver, stack, "/people")
    driver.execute_script(
        "document.getElementById('people-results').setAttribute('aria-busy', 'true');"
    )
    check("/people (searching)")

    open_page(driver, stack, "/")
    for section in ("absent", "present", "unscheduled"):
        items = driver.find_elements(By.CSS_SELECTOR, f"#{section} li:not(.nobody)")
        assert items, f"the board has nobody {section}: its colours go unchecked"
    assert driver.find_elements(By.CSS_SELECTOR, "#present li .corrected, #absent li .corrected")
    check("/ (board)")
    # The stale state as board.js sets it when the stream is lost.
    driver.execute_script(
        "document.body.classList.add('is-stale');"
        "const b = document.getElementById('stale'); b.hidden = false;"
        "b.textContent = 'Sin conexión. Datos de: 10:00:00';"
    )
    check("/ (board, stale)")
    # An empty list says so in its own colour.
    driver.execute_script(
        "const li = document.createElement('li'); li.className = 'nobody';"
        "li.textContent = 'Nadie'; document.getElementById('present').replaceChildren(li);"
    )
    check("/ (board, nobody)")
    # A phone: the board's type is smaller there (no longer "large" text at 3:1), and
    # the admin pages lay their tables out otherwise.
    phone = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)
    try:
        for url in ("/", "/people"):
            open_page(driver, stack, url)
            check(f"{url} (phone)")
    finally:
        desk = {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", desk)
    assert not found, "axe-core, serious or critical:\n" + "\n".join(found)


def test_the_upload_pages_pass_axe(
    stack: Stack, driver: Any, axe_source: str, tmp_path: Path
) -> None:
    """The pages a POST answers with: a people file refused with its problems listed,
    and a good one's preview (left unconfirmed)."""
    sign_in(driver, stack, "hr")
    found: list[str] = []
    for label, card in (("refused", "04AB00ZZ"), ("preview", "04AB0009")):
        path = tmp_path / f"{label}.csv"
        path.write_text(f"uid;nombre;tarjeta\nsubida.uno;Subida Uno;{card}\n", encoding="utf-8")
        open_page(driver, stack, "/uploads/people")
        form = driver.find_element(By.ID, "upload-form")
        form.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))
        form.find_element(By.CSS_SELECTOR, "button").click()
        shown = "upload-problems" if label == "refused" else "upload-preview"
        wait_for(driver, lambda d, i=shown: d.find_elements(By.ID, i), 10, f"the {label} page")
        bad = blocking(axe_violations(driver, axe_source, WCAG_21_AA))
        if bad:
            found.append(describe(f"/uploads/people ({label})", bad))
    assert not found, "axe-core, serious or critical:\n" + "\n".join(found)


# ---- keyboard ------------------------------------------------------------------------

FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]),"
    " select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])"
)
# What a control is, in words that survive the live list rebuilding its rows with the
# same content (admin.js): its tag, name, link or text, and its form's action and
# hidden fields.
KEY_JS = """
function key(e) {
  const f = e.form || null;
  const hidden = f ? Array.from(f.querySelectorAll("input[type=hidden]"))
    .filter(i => i.name !== "csrf").map(i => i.name + "=" + i.value).join("&") : "";
  return [e.tagName, e.name || "", e.getAttribute("href") || "",
          (e.textContent || "").trim().slice(0, 40), f ? f.getAttribute("action") : "",
          hidden].join("|");
}
function controls(selector) {
  return Array.from(document.querySelectorAll(selector))
    .filter(e => e.getClientRects().length > 0 && !e.closest("[hidden], template"));
}
"""


def visible_controls(driver: Any) -> list[str]:
    """The page's controls in document order, as keys."""
    keys: list[str] = driver.execute_script(
        KEY_JS + "return controls(arguments[0]).map(key);", FOCUSABLE
    )
    return keys


def focus_ring(driver: Any) -> dict[str, Any]:
    """The focused control and how its focus shows (outline or box shadow), in one
    round trip."""
    ring: dict[str, Any] = driver.execute_script(
        KEY_JS
        + """
        const e = document.activeElement, s = getComputedStyle(e);
        return {key: key(e), element: e, html: e.outerHTML.slice(0, 120),
                outline: s.outlineStyle !== "none" ? parseFloat(s.outlineWidth) : 0,
                shadow: s.boxShadow};
        """
    )
    return ring


def shows(ring: dict[str, Any]) -> bool:
    """A ring of 2 px or more (or a shadow) on the control the keyboard moved to
    (Chromium's own ring is 1 px)."""
    return bool(ring["outline"] >= 2 or ring["shadow"] != "none")


def press(driver: Any, *keys: str) -> None:
    """Keys as a person types them: to whatever has the focus, nothing focused first."""
    ActionChains(driver).send_keys(*keys).perform()


def from_the_top(driver: Any) -> None:
    """Tab's next stop becomes the page's first control, as on a fresh page."""
    driver.execute_script(
        "document.activeElement.blur(); document.body.tabIndex = -1;"
        " document.body.focus(); document.body.removeAttribute('tabindex');"
    )


def tab_to(driver: Any, xpath: str) -> Any:
    """Tab onto the control at `xpath` from the control before it, check its focus
    shows, and return it. (That Tab reaches every control from the top of the page,
    in order, is the walk's test; here each action starts one stop away, which keeps
    the test short.) Found in the page's script at that moment: the live list may
    have rebuilt its rows since the page loaded; a row with the focus it keeps."""
    driver.execute_script(
        KEY_JS
        + """
        const target = document.evaluate(arguments[0], document, null,
          XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
        if (!target) throw new Error("no control at " + arguments[0]);
        const all = controls(arguments[1]), i = all.indexOf(target);
        if (i > 0) { all[i - 1].focus(); return; }
        document.activeElement.blur(); document.body.tabIndex = -1;
        document.body.focus(); document.body.removeAttribute("tabindex");
        """,
        xpath,
        FOCUSABLE,
    )
    press(driver, Keys.TAB)
    ring = focus_ring(driver)
    assert ring["element"] == driver.find_element(By.XPATH, xpath), ring["html"]
    assert shows(ring), ring["html"]
    return ring["element"]


def test_every_control_is_reached_by_tab_with_a_visible_focus(stack: Stack, driver: Any) -> None:
    """On the login, the people page and a person's page, Tab visits every control, in
    page order, and each shows a focus ring of at least 2 px."""
    for role, url in ((None, "/login"), ("admin", "/people"), ("admin", "/people/ana.garcia")):
        sign_in(driver, stack, role)
        open_page(driver, stack, url)
        controls = visible_controls(driver)
        from_the_top(driver)
        reached: list[str] = []  # the first stop is the skip link
        # A month or date field is several stops (its parts, its calendar button, which
        # Chromium rings itself): stops on the control just reached count once.
        for _ in range(4 * len(controls)):
            if len(reached) == len(controls):
                break
            press(driver, Keys.TAB)
            ring = focus_ring(driver)
            if reached and ring["key"] == reached[-1]:
                continue
            assert shows(ring), (url, ring["html"])
            reached.append(ring["key"])
        assert reached == controls, url


def test_signing_in_by_keyboard(stack: Stack, driver: Any) -> None:
    driver.delete_all_cookies()
    open_page(driver, stack, "/login?next=/people")
    # The name field has the focus on arrival; Tab moves on, Enter on the button sends.
    assert driver.switch_to.active_element.get_attribute("name") == "username"
    press(driver, ADMIN)
    press(driver, Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("name") == "password"
    press(driver, PASSWORD)
    tab_to(driver, "//form[@action='/login']//button[@type='submit']")
    press(driver, Keys.ENTER)
    wait_for(driver, lambda d: urlsplit(d.current_url).path == "/people", 10, "signed in")
    # The skip link is the first stop and lands on the main content.
    from_the_top(driver)
    press(driver, Keys.TAB)
    skip = driver.switch_to.active_element
    assert skip.get_attribute("href").endswith("#main") and skip.is_displayed()
    press(driver, Keys.ENTER)
    assert driver.execute_script("return document.activeElement.id;") == "main"


def _form(action: str, name: str, value: str) -> str:
    """The XPath of the form of `action` whose hidden `name` is `value`."""
    return f"//form[@action='{action}'][input[@name='{name}' and @value='{value}']]"


def _page(driver: Any) -> str:
    """A mark on the page now shown, gone once the next page has replaced it."""
    mark = uuid.uuid4().hex
    driver.execute_script("window.keyboardTestMark = arguments[0];", mark)
    return mark


def _flash_ok(driver: Any, before: str, what: str) -> None:
    """The page after the one marked `before` says the action was done."""
    wait_for(
        driver,
        lambda d: d.execute_script("return window.keyboardTestMark;") != before,
        10,
        f"{what}: a new page",
    )
    flash = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"), 10, what)
    assert "error" not in flash[0].get_attribute("class"), (what, flash[0].text)


def _confirm(driver: Any) -> None:
    """The browser's confirmation, answered as Enter answers it."""
    alert = wait_for(driver, lambda d: d.switch_to.alert, 10, "the confirmation")
    alert.accept()


def test_every_action_of_the_people_pages_by_keyboard(stack: Stack, driver: Any) -> None:
    """Each form of the people list and of a person's page: Tab to its control, type,
    Enter or Space; the database shows each change."""
    sign_in(driver, stack, "admin")
    uid = "teclado.uno"
    name_of = "SELECT name FROM people WHERE uid = ?"
    held = "SELECT person_uid FROM cards WHERE card_key = ? AND revoked_at IS NULL"

    # Add a person: two fields and Space on the button.
    open_page(driver, stack, "/people")
    tab_to(driver, "//form[@action='/people/add']//input[@name='uid']")
    press(driver, uid, Keys.TAB, "Teclado Uno")
    tab_to(driver, "//form[@action='/people/add']//button")
    before = _page(driver)
    press(driver, Keys.SPACE)
    _flash_ok(driver, before, "person added")
    assert sql(stack.url, name_of, (uid,)) == [("Teclado Uno",)]

    # The unknown card assigned to her: her uid in its row's field, Enter.
    open_page(driver, stack, "/people")
    tab_to(driver, f"{_form('/cards/assign', 'card', UNKNOWN_CARD)}//input[@name='uid']")
    before = _page(driver)
    press(driver, uid, Keys.ENTER)
    _flash_ok(driver, before, "card assigned")
    assert sql(stack.url, held, (UNKNOWN_CARD,)) == [(uid,)]

    # Find her by typing in the search box, Tab to her link, Enter: her page.
    open_page(driver, stack, "/people")
    tab_to(driver, "//form[@role='search']//input[@name='q']")
    press(driver, "Teclado")
    link = "//table[@id='people-table']//a[text()='Teclado Uno']"
    # Settled: the last search's results are in (admin.js marks them with its query and
    # drops aria-busy), so no later answer replaces the link being used.
    wait_for(
        driver,
        lambda d: d.execute_script(
            "const r = document.getElementById('people-results');"
            " return r.dataset.query === 'q=Teclado' && !r.hasAttribute('aria-busy')"
            " && r.querySelectorAll('tbody tr').length === 1;"
        ),
        10,
        "the list down to her",
    )
    tab_to(driver, link)
    press(driver, Keys.ENTER)
    wait_for(driver, lambda d: urlsplit(d.current_url).path == f"/people/{uid}", 10, "her page")

    # Rename: Enter in the field sends its form.
    tab_to(driver, "//form[@action='/people/rename']//input[@name='name']")
    before = _page(driver)
    press(driver, Keys.END, " Bis", Keys.ENTER)
    _flash_ok(driver, before, "renamed")
    assert sql(stack.url, name_of, (uid,)) == [("Teclado Uno Bis",)]

    # Revoke the card: Enter on its button, Enter on the confirmation.
    tab_to(driver, f"{_form('/cards/revoke', 'card', UNKNOWN_CARD)}//button")
    before = _page(driver)
    press(driver, Keys.ENTER)
    _confirm(driver)
    _flash_ok(driver, before, "card revoked")
    assert sql(stack.url, held, (UNKNOWN_CARD,)) == []

    # Assign it again from her page: the card's number, Space on the button.
    tab_to(driver, "//form[@id='assign-card']//input[@name='card']")
    press(driver, UNKNOWN_CARD)
    tab_to(driver, "//form[@id='assign-card']//button")
    before = _page(driver)
    press(driver, Keys.SPACE)
    _flash_ok(driver, before, "card assigned again")
    assert sql(stack.url, held, (UNKNOWN_CARD,)) == [(uid,)]

    # Deactivate: Space on its button.
    tab_to(driver, f"{_form('/people/active', 'uid', uid)}//button")
    before = _page(driver)
    press(driver, Keys.SPACE)
    _flash_ok(driver, before, "deactivated")
    assert sql(stack.url, "SELECT active FROM people WHERE uid = ?", (uid,)) == [(0,)]

    # Erase: Enter on its button, then Enter on the browser's confirmation.
    tab_to(driver, f"{_form('/people/erase', 'uid', uid)}//button")
    before = _page(driver)
    press(driver, Keys.ENTER)
    _confirm(driver)
    _flash_ok(driver, before, "erased")
    erased = "SELECT count(*) FROM people WHERE uid = ? AND erased_at IS NOT NULL"
    assert sql(stack.url, erased, (uid,)) == [(1,)]


def test_the_live_list_keeps_the_keyboard_focus(stack: Stack, driver: Any) -> None:
    """A card seen while someone is typing a uid for another: the list is rebuilt
    around their row, and the focus and what they typed stay (the focus was lost when
    the row was taken out and put back)."""
    sign_in(driver, stack, "admin")
    open_page(driver, stack, "/people")
    field = tab_to(driver, f"{_form('/cards/assign', 'card', SECOND_UNKNOWN)}//input[@name='uid']")
    press(driver, "ana")

    async def another_card() -> None:
        stores = Stores.open(stack.url)
        try:
            swipe = UnknownSwipe(THIRD_UNKNOWN, "exit", None, datetime.now(UTC))
            await stores.swipes.record_unknown(swipe)
        finally:
            await stores.close()

    asyncio.run(another_card())
    row = f"#unknown-rows tr[data-card='{THIRD_UNKNOWN}']"
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, row), 10, "the new card listed")
    assert driver.switch_to.active_element == field
    press(driver, ".garcia")  # still in the person's hands
    assert field.get_attribute("value") == "ana.garcia"


def test_the_axe_check_finds_what_it_should(stack: Stack, driver: Any, axe_source: str) -> None:
    """A control without a label and text without contrast, planted in a page: the
    check reports both, so a pass above means something."""
    driver.delete_all_cookies()
    open_page(driver, stack, "/login")
    driver.execute_script(
        "const i = document.createElement('input'); i.id = 'planted';"
        "document.querySelector('main').appendChild(i);"
        "const p = document.createElement('p'); p.id = 'faint'; p.textContent = 'faint';"
        "p.style.color = '#ddd'; p.style.background = '#fff';"
        "document.querySelector('main').appendChild(p);"
    )
    bad = {v["id"]: v for v in blocking(axe_violations(driver, axe_source, WCAG_21_AA))}
    assert {"label", "color-contrast"} <= set(bad), json.dumps(bad, indent=1)
    assert any("#planted" in n["target"] for n in bad["label"]["nodes"])
    assert any("#faint" in n["target"] for n in bad["color-contrast"]["nodes"])


def test_the_unknown_cards_page_searches_as_you_type_and_stays_live(
    stack: Stack, driver: Any
) -> None:
    """/cards/unknown: typing part of a key narrows the list without a reload; a card
    tapped meanwhile that matches the search shows up in it, one that does not stays
    out (each page fetches its own page of the list when the stream says it moved)."""
    sign_in(driver, stack, "admin")
    open_page(driver, stack, "/cards/unknown")
    driver.execute_script("window.notReloaded = true;")
    tab_to(driver, "//form[@role='search']//input[@name='q']")
    press(driver, "04:c0:ff")

    def listed(d: Any) -> list[str]:
        # In one script: the live list replaces its rows at any moment, so rows found
        # first and read one by one afterwards can be gone (a stale element).
        cards = d.execute_script(
            "return [...document.querySelectorAll('#unknown-rows tr')]"
            ".map(r => r.dataset.card || '');"
        )
        return [str(c) for c in cards]

    wait_for(
        driver,
        lambda d: d.execute_script(
            "const r = document.getElementById('unknown-results');"
            " return r.dataset.query === 'q=04%3Ac0%3Aff' && !r.hasAttribute('aria-busy');"
        ),
        10,
        "the search's results",
    )
    assert listed(driver) and all(c.startswith("04C0FF") for c in listed(driver))
    assert urlsplit(driver.current_url).query == "q=04%3Ac0%3Aff"

    async def two_cards() -> None:
        stores = Stores.open(stack.url)
        try:
            now = datetime.now(UTC)
            await stores.swipes.record_unknown(UnknownSwipe("0B0B0B0B", "exit", None, now))
            await stores.swipes.record_unknown(UnknownSwipe("04C0FFAA", "exit", None, now))
        finally:
            await stores.close()

    asyncio.run(two_cards())
    wait_for(driver, lambda d: "04C0FFAA" in listed(d), 10, "the new matching card listed live")
    assert listed(driver)[0] == "04C0FFAA" and "0B0B0B0B" not in listed(driver)
    assert driver.execute_script("return window.notReloaded === true;")
