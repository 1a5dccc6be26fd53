"""The console page (nginx/console/) in a real browser: Debian's headless Chromium, driven by
chromedriver through Debian's python3-selenium (scripts/install-deps installs the three).

The whole path as an owner: sign up, verify the email through the link of the message the
stack's SMTP sink kept (read from its Maildir with mailbox.py, as a user reads their mail),
sign in, create an organization, the dashboard, save the sandbox's pm_card_visa, buy 500
credits and see the balance change, turn auto-recharge on, create an environment, invite a
member. Then as that member: sign up, verify, accept the invitation from its email's link,
the dashboard without any billing control, and an admin-only action answered 403 shown as
the API's own message (the page goes on working). Along the way: the API's errors appear
next to the field they name, with the API's words; the developer mail panel shows only
when nginx serves /dev/mail/latest (ORGD_DEV_MAIL=1, `make run`), and the page never
throws.

A screenshot of each page is kept in $ORGD_VAR/screenshots/ (var/test/screenshots under
scripts/test). Debian's Python modules live under Debian's /usr/bin/python3: when the
`python3` running this file has no selenium, the file runs itself again under that one.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_PYTHON = "/usr/bin/python3"

try:
    import selenium  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and \
            os.access(DEBIAN_PYTHON, os.X_OK) and not os.environ.get("ORGD_CONSOLE_REEXEC"):
        os.environ["ORGD_CONSOLE_REEXEC"] = "1"
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])
    print(f"FAIL {os.path.basename(__file__)}::selenium: no selenium module for {sys.executable} "
          f"nor {DEBIAN_PYTHON} (scripts/install-deps installs python3-selenium)", flush=True)
    sys.exit(1)

import base64  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException, StaleElementReferenceException, TimeoutException, WebDriverException)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

sys.path.insert(0, HERE)
import mailbox as mb  # noqa: E402  tests/integration/mailbox.py
from orgdtest import VAR, Failure, expect, expect_eq, mail_dir, main, req, test, url  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = os.path.join(VAR, "screenshots")
WAIT = 10  # seconds for anything the page does

RUN = f"{int(time.time())}{os.getpid() % 1000:03d}"
OWNER = {"name": "Olivia Owner", "email": f"owner-{RUN}@console.test", "password": "owner-pass-123"}
MEMBER = {"name": "Max Member", "email": f"member-{RUN}@console.test", "password": "member-pass-123"}
ORG_NAME = f"Console Co {RUN}"

W = {"driver": None, "profile": None, "dev_mail": None, "owner_token": None,
     "org_id": None, "member_id": None}


# --- the browser ------------------------------------------------------------------------------

def driver():
    if W["driver"] is not None:
        return W["driver"]
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            raise Failure(f"no {path} (scripts/install-deps installs chromium and chromium-driver)")
    W["profile"] = tempfile.mkdtemp(prefix="orgd-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # .library/env/machines/c.md: as root, on a closed network
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--disable-extensions", "--disable-default-apps", "--mute-audio",
                 "--window-size=1280,900", f"--user-data-dir={W['profile']}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(20)
    W["driver"] = d
    os.makedirs(SHOTS, exist_ok=True)
    return d


def quit_driver():
    d = W.get("driver")
    W["driver"] = None
    if d is not None:
        try:
            d.quit()
        except WebDriverException:
            pass
    if W.get("profile"):
        shutil.rmtree(W["profile"], ignore_errors=True)


def wait_for(cond, what, timeout=WAIT):
    """cond(driver) once it is true; an element found as the page re-renders (after each
    change the dashboard is drawn anew) may be gone the next instant: asked again."""
    try:
        return WebDriverWait(driver(), timeout, poll_frequency=0.05,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                             ).until(lambda d: cond(d))
    except TimeoutException:
        raise Failure(f"{what}: not within {timeout} s (page {driver().current_url}; "
                      f"view {view()!r}; text: {page_text()[:400]!r})") from None


def page_text():
    try:
        return driver().find_element(By.TAG_NAME, "body").text
    except WebDriverException:
        return ""


def view():
    try:
        return driver().find_element(By.TAG_NAME, "body").get_attribute("data-view")
    except WebDriverException:
        return None


def el(css, what=None, visible=True):
    """The element css names, waiting for it (and for it to be shown)."""
    def find(d):
        for e in d.find_elements(By.CSS_SELECTOR, css):
            if not visible or e.is_displayed():
                return e
        return None
    return wait_for(find, what or f"element {css}")


def gone(css):
    return not [e for e in driver().find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]


def open_page(path):
    driver().get(url + path)


def settled():
    """Waits until no view is loading (body[data-busy]) and no form waits for its answer
    (form.busy): what the page shows then stays until the test acts."""
    wait_for(lambda d: not d.find_elements(By.CSS_SELECTOR, "body[data-busy], form.busy"),
             "the page to settle")


def on_fresh(css, fn):
    """fn(element css names) once the page settled, again with the element found anew if a
    re-render replaced it."""
    deadline = time.monotonic() + WAIT
    while True:
        settled()
        try:
            return fn(el(css))
        except StaleElementReferenceException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def fill(css, value):
    def do(e):
        e.clear()
        e.send_keys(value)
        if e.get_attribute("value") != value:
            raise StaleElementReferenceException("typed into a page being redrawn")
        return e
    return on_fresh(css, do)


def submit(form_id):
    on_fresh(f"#{form_id}-submit", lambda e: e.click())


def text_of(css):
    return on_fresh(css, lambda e: e.text.strip())


def shot(name):
    """A screenshot of the whole page as $ORGD_VAR/screenshots/<name>.png."""
    d = driver()
    settled()
    path = os.path.join(SHOTS, f"{name}.png")
    # Chromium's own full-page capture (DevTools), beyond the 1280x900 window
    size = d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    png = d.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000),
                 "scale": 1}})
    with open(path, "wb") as f:
        f.write(base64.b64decode(png["data"]))
    return path


def js_errors():
    """Uncaught errors and console.error lines the page produced since the last call (the
    network's own lines, e.g. an answer 403, are not errors of the page)."""
    out = []
    for entry in driver().get_log("browser"):
        if entry.get("level") == "SEVERE" and entry.get("source") != "network":
            out.append(entry.get("message", ""))
    return out


def expect_no_js_errors(where):
    errs = js_errors()
    expect(not errs, f"{where}: the page logged errors: {errs[:3]!r}")


def field_error(form_id, field):
    return el(f"#{form_id}-{field}-error", f"the error next to {form_id}'s {field}")


def toast_says(fragment):
    wait_for(lambda d: fragment in (d.find_element(By.ID, "toast").text or ""),
             f"a notice saying {fragment!r}")


# --- mail --------------------------------------------------------------------------------------

def mail_link(to, prefix_path, timeout=15):
    """The link starting with <origin>/<prefix_path> in the newest message to `to` that has
    one, as the page's own address (whatever host ORGD_APP_URL names)."""
    deadline = time.monotonic() + timeout
    while True:
        for m in reversed(mb.messages(mail_dir(), to)):
            for line in mb.text_of(m).splitlines():
                line = line.strip()
                parts = urllib.parse.urlsplit(line)
                if line.startswith("http") and " " not in line and \
                        (parts.path + ("?" + parts.query if parts.query else "")).startswith(prefix_path):
                    return parts.path + ("?" + parts.query if parts.query else ""), line
        if time.monotonic() > deadline:
            raise Failure(f"no message to {to} with a {prefix_path} link within {timeout} s")
        time.sleep(0.05)


def page_get(path):
    """GET path of the site outside the API (the console's page and files, the developer
    mail): plain HTTP, not req(), whose answers are held to schema/openapi.yaml (/v1/ only).
    Returns (status, headers, body bytes)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def api_message(method, path, body, token=None, headers=None):
    """What the API itself answers (status, error object) to this request."""
    st, _, b, raw = req(method, path, body=body, token=token, headers=headers)
    expect(isinstance(b, dict) and "error" in b, f"{method} {path}: expected an error, got {st} {raw[:200]!r}")
    return st, b["error"]


# --- the owner ------------------------------------------------------------------------------------

@test
def console_is_served_and_rest_stays_json_404():
    for path in ("/", "/verify-email", "/reset-password", "/invitations"):
        st, h, raw = page_get(path)
        expect_eq(st, 200, f"GET {path}")
        expect(h.get("Content-Type", "").startswith("text/html"), f"{path}: {h.get('Content-Type')!r}")
        expect(b"/console/console.js" in raw, f"{path}: not the console page")
        expect("script-src 'self'" in (h.get("Content-Security-Policy") or ""), f"{path}: no CSP")
    for path, ctype in (("/console/console.js", "application/javascript"),
                        ("/console/console.css", "text/css")):
        st, h, _ = page_get(path)
        expect_eq(st, 200, f"GET {path}")
        expect(h.get("Content-Type", "").startswith(ctype), f"{path}: {h.get('Content-Type')!r}")
    for path in ("/index.html", "/console/", "/console/nope.js", "/nope", "/dev/mail", "/verify-email/x"):
        st, h, raw = page_get(path)
        b = json.loads(raw) if raw.startswith(b"{") else None
        expect(st == 404 and h.get("Content-Type", "").startswith("application/json")
               and b and b["error"]["code"] == "not_found", f"GET {path}: {st} {raw[:120]!r}")
    st, h, _ = page_get("/dev/mail/latest")
    expect(st in (200, 404), f"/dev/mail/latest: {st}")
    W["dev_mail"] = st == 200
    if W["dev_mail"]:
        expect(h.get("Content-Type", "").startswith("text/plain"), "dev mail is not text/plain")


@test
def owner_signs_up_with_the_apis_errors_next_to_fields():
    open_page("/#/signup")
    el("#signup-name")
    expect_no_js_errors("the sign-up page")
    if not W["dev_mail"]:
        expect(gone("#devmail"), "the developer mail panel shows while /dev/mail/latest is a 404")
    # a password too short: the API's own message, next to the password
    _, want = api_message("POST", "/v1/auth/signup",
                          {"email": OWNER["email"], "password": "short", "name": OWNER["name"]})
    fill("#signup-name", OWNER["name"])
    fill("#signup-email", OWNER["email"])
    fill("#signup-password", "short")
    submit("signup")
    err = field_error("signup", want.get("field") or "password")
    expect_eq(err.text.strip(), want["message"], "the message next to the password")
    expect_eq(el("#signup-password").get_attribute("aria-invalid"), "true", "password aria-invalid")
    shot("signup-error")
    fill("#signup-password", OWNER["password"])
    submit("signup")
    el("#signup-done", "the check-your-inbox page")
    expect(OWNER["email"] in text_of("#signup-done"), "the page does not name the address")
    shot("signup-done")


@test
def owner_verifies_email_from_the_link():
    path, full = mail_link(OWNER["email"], "/verify-email?token=")
    if W["dev_mail"]:
        # the developer panel shows the same message, its link clickable
        wait_for(lambda d: full in d.find_element(By.ID, "devmail-body").text,
                 "the developer panel showing the verification link", timeout=8)
        a = el("#devmail a.devmail-link")
        expect(a.get_attribute("href").endswith(path), f"panel link {a.get_attribute('href')!r}")
        shot("dev-mail-panel")
    open_page(path)
    done = el("#verify-done", "the email-verified page")
    expect(OWNER["email"] in done.text, f"verified page: {done.text!r}")
    expect("token=" not in driver().current_url, "the token stays in the address bar")
    shot("verify-email")
    # the link works once: opening it again says so, in the API's words
    _, want = api_message("POST", "/v1/auth/verify-email", {"token": mb.token_of(full)})
    open_page(path)
    expect_eq(text_of("#verify-error"), want["message"], "a used link's message")
    expect_no_js_errors("the verify page")


@test
def owner_signs_in():
    open_page("/#/signin")
    # a wrong password: the API's 401 message, not a crash
    _, want = api_message("POST", "/v1/auth/login", {"email": OWNER["email"], "password": "wrong-password"})
    fill("#signin-email", OWNER["email"])
    fill("#signin-password", "wrong-password")
    submit("signin")
    got = el("#signin-error, #signin-email-error, #signin-password-error", "the sign-in error")
    expect_eq(got.text.strip(), want["message"], "the sign-in error")
    fill("#signin-password", OWNER["password"])
    submit("signin")
    # no organization yet: the page to create one
    el("#create-org-name", "the create-an-organization form")
    expect(gone("#verify-banner"), "the verify banner shows for a verified address")
    expect(OWNER["email"] in text_of("#who"), "the signed-in user is not named")
    shot("owner-no-org")


@test
def owner_creates_an_organization():
    submit("create-org")  # empty: the API's message next to the name
    st, want = api_message("POST", "/v1/orgs", {"name": ""}, token=_owner_token())
    expect_eq(field_error("create-org", "name").text.strip(), want["message"], "empty name's message")
    fill("#create-org-name", ORG_NAME)
    submit("create-org")
    expect_eq(text_of("#org-name"), ORG_NAME, "the dashboard's organization")
    expect_eq(text_of("#my-role"), "owner", "the role shown")


@test
def owner_sees_the_dashboard():
    el("#usage-bar")
    expect_eq(text_of("#plan-name"), "Free", "plan")
    expect("0 of 1,000 runs" in text_of("#usage-text"), f"usage: {text_of('#usage-text')!r}")
    expect_eq(text_of("#credit-balance"), "0", "credit balance")
    rows = driver().find_elements(By.CSS_SELECTOR, "#members tbody tr")
    expect_eq(len(rows), 1, "member rows")
    expect(OWNER["email"] in rows[0].text and "owner" in rows[0].text, f"member row {rows[0].text!r}")
    for css in ("#billing", "#payment-method", "#buy-credits", "#auto-recharge", "#invite", "#create-env"):
        el(css, f"the owner's {css}")
    expect_eq(text_of("#payment-method-current"), "No payment method saved.", "payment method")
    expect_no_js_errors("the owner's dashboard")
    shot("owner-dashboard-new")


@test
def owner_saves_pm_card_visa():
    # buying before a card is saved: the API's 409, shown
    _, want = api_message("POST", "/v1/org/billing/credits", {"credits": 500}, token=_owner_token(),
                          headers={"Idempotency-Key": f"console-probe-{RUN}"})
    submit("buy-credits")
    expect_eq(text_of("#buy-credits-error"), want["message"], "buying without a card")
    options = [o.get_attribute("value") for o in
               Select(el("#payment-method-payment_method")).options]
    expect_eq(options, ["pm_card_visa", "pm_card_mastercard", "pm_card_chargeDeclined"], "test cards")
    Select(el("#payment-method-payment_method")).select_by_value("pm_card_visa")
    submit("payment-method")
    wait_for(lambda d: "4242" in d.find_element(By.ID, "payment-method-current").text,
             "the saved card")
    expect(text_of("#payment-method-current").startswith("Visa"), text_of("#payment-method-current"))


@test
def owner_buys_500_credits():
    # below the minimum: the API's message next to the amount
    st, want = api_message("POST", "/v1/org/billing/credits", {"credits": 100}, token=_owner_token(),
                           headers={"Idempotency-Key": f"console-probe2-{RUN}"})
    fill("#buy-credits-credits", "100")
    submit("buy-credits")
    expect_eq(field_error("buy-credits", want.get("field") or "credits").text.strip(), want["message"],
              "the message next to the amount")
    fill("#buy-credits-credits", "500")
    submit("buy-credits")
    wait_for(lambda d: d.find_element(By.ID, "credit-balance").text == "500", "the balance of 500")
    toast_says("Bought 500 credits")
    st, _, dash, _ = req("GET", "/v1/org/dashboard", token=_owner_token())
    expect_eq(dash["credit_balance"], 500, "the API's balance (one charge)")


@test
def owner_sees_a_declined_card_as_the_apis_message():
    Select(el("#payment-method-payment_method")).select_by_value("pm_card_chargeDeclined")
    submit("payment-method")
    wait_for(lambda d: "0002" in d.find_element(By.ID, "payment-method-current").text, "the declining card")
    fill("#buy-credits-credits", "500")
    submit("buy-credits")
    got = el("#buy-credits-error", "the decline's message")
    expect_eq(el("#buy-credits").get_attribute("data-error-code"), "payment_failed", "error code")
    st, want = api_message("POST", "/v1/org/billing/credits", {"credits": 500}, token=_owner_token(),
                           headers={"Idempotency-Key": f"console-probe3-{RUN}"})
    expect_eq((st, got.text.strip()), (402, want["message"]), "the decline's message")
    expect_eq(text_of("#credit-balance"), "500", "the balance after a decline")
    shot("owner-card-declined")
    Select(el("#payment-method-payment_method")).select_by_value("pm_card_visa")
    submit("payment-method")
    wait_for(lambda d: "4242" in d.find_element(By.ID, "payment-method-current").text, "visa again")


@test
def owner_turns_auto_recharge_on():
    box = el("#auto-recharge-enabled")
    if not box.is_selected():
        box.click()
    fill("#auto-recharge-threshold_credits", "200")
    fill("#auto-recharge-recharge_credits", "1000")
    submit("auto-recharge")
    wait_for(lambda d: d.find_element(By.ID, "auto-recharge-state").text.startswith("On"),
             "auto-recharge on")
    expect("1,000 credits" in text_of("#auto-recharge-state") and "200" in text_of("#auto-recharge-state"),
           text_of("#auto-recharge-state"))
    expect(el("#auto-recharge-enabled").is_selected(), "the box is not ticked after saving")


@test
def owner_creates_an_environment():
    fill("#create-env-name", "production")
    Select(el("#create-env-kind")).select_by_value("production")
    submit("create-env")  # no region: the API's message next to it
    _, want = api_message("POST", "/v1/org/environments", {"name": "x", "kind": "production", "region": ""},
                          token=_owner_token())
    expect_eq(field_error("create-env", "region").text.strip(), want["message"], "region's message")
    fill("#create-env-region", "eu-west-1")
    submit("create-env")
    row = el('#environments tr[data-env="production"]', "the new environment")
    expect("production" in row.text and "active" in row.text, f"environment row {row.text!r}")


@test
def owner_invites_a_member():
    fill("#invite-email", "not-an-address")
    submit("invite")
    _, want = api_message("POST", "/v1/org/members", {"email": "not-an-address", "role": "member"},
                          token=_owner_token())
    expect_eq(field_error("invite", "email").text.strip(), want["message"], "a bad address's message")
    fill("#invite-email", MEMBER["email"])
    Select(el("#invite-role")).select_by_value("member")
    submit("invite")
    row = el(f'#members tr[data-member="{MEMBER["email"]}"]', "the invitation's row")
    expect("invited" in row.text, f"invitation row {row.text!r}")
    expect_no_js_errors("the owner's dashboard")
    W["owner_dashboard"] = shot("owner-dashboard")


# --- the member ------------------------------------------------------------------------------------

@test
def member_signs_up_and_verifies():
    el("#signout").click()
    el("#signin-email", "the sign-in page after signing out")
    open_page("/#/signup")
    fill("#signup-name", MEMBER["name"])
    fill("#signup-email", MEMBER["email"])
    fill("#signup-password", MEMBER["password"])
    submit("signup")
    el("#signup-done")
    path, _ = mail_link(MEMBER["email"], "/verify-email?token=")
    open_page(path)
    el("#verify-done", "the member's email verified")


@test
def member_accepts_the_invitation():
    path, _ = mail_link(MEMBER["email"], "/invitations")
    expect_eq(path, "/invitations", "the invitation's link")
    open_page(path)  # not signed in: sign in first, then back to the invitations
    fill("#signin-email", MEMBER["email"])
    fill("#signin-password", MEMBER["password"])
    submit("signin")
    accept = el(f'button[data-accept="{ORG_NAME}"]', "the invitation to accept")
    expect(view() == "invitations", f"after sign-in: view {view()!r}")
    shot("member-invitations")
    accept.click()
    expect_eq(text_of("#org-name"), ORG_NAME, "the member's dashboard")


@test
def member_dashboard_has_no_billing_control():
    expect_eq(text_of("#my-role"), "member", "the role shown")
    expect_eq(text_of("#credit-balance"), "500", "the balance a member sees")
    el('#environments tr[data-env="production"]', "the environments a member sees")
    for css in ("#billing", "#payment-method", "#buy-credits", "#auto-recharge", "#remove-card",
                "#invite", "#create-env", "select[data-role-of]"):
        expect(not driver().find_elements(By.CSS_SELECTOR, css), f"a member sees {css}")
    text = page_text()
    for word in ("Payment method", "Buy credits", "Auto-recharge", "pm_card", "Billing"):
        expect(word not in text, f"a member's page says {word!r}")
    # the API agrees: billing is null for members
    st, _, login, _ = req("POST", "/v1/auth/login", body={"email": MEMBER["email"], "password": MEMBER["password"]})
    st, _, dash, _ = req("GET", "/v1/org/dashboard", token=login["token"])
    expect_eq(dash["billing"], None, "the member's dashboard billing")
    W["member_id"] = login["user"]["id"]
    expect_no_js_errors("the member's dashboard")
    W["member_dashboard"] = shot("member-dashboard")


@test
def member_403_is_shown_as_the_apis_message():
    """The owner makes the member an admin; the member's page shows admin controls; the owner
    takes it back; the member's next admin action is a 403, shown as the API's message."""
    owner = _owner_token()
    st, _, _, raw = req("PATCH", f"/v1/org/members/{W['member_id']}", body={"role": "admin"}, token=owner)
    expect_eq(st, 200, f"promote: {raw[:200]!r}")
    el("#refresh").click()
    wait_for(lambda d: d.find_element(By.ID, "my-role").text == "admin", "the member shown as admin")
    fill("#create-env-name", "staging")
    fill("#create-env-region", "us-east-1")
    st, _, _, raw = req("PATCH", f"/v1/org/members/{W['member_id']}", body={"role": "member"}, token=owner)
    expect_eq(st, 200, f"demote: {raw[:200]!r}")
    _, _, login, _ = req("POST", "/v1/auth/login", body={"email": MEMBER["email"], "password": MEMBER["password"]})
    st, want = api_message("POST", "/v1/org/environments",
                           {"name": "staging", "kind": "development", "region": "us-east-1"},
                           token=login["token"])
    expect_eq(st, 403, "the API's answer to a member")
    submit("create-env")
    got = el("#create-env-error", "the 403's message")
    expect_eq(got.text.strip(), want["message"], "the 403's message")
    expect_eq(el("#create-env").get_attribute("data-error-code"), "forbidden", "error code")
    expect("may have changed" in text_of("#create-env-hint"), "no hint to refresh under the 403")
    shot("member-403")
    expect_no_js_errors("after a 403")
    # the page goes on working: the hint's Refresh shows the member's view again
    on_fresh("#create-env-hint button", lambda e: e.click())
    wait_for(lambda d: not d.find_elements(By.ID, "create-env"), "the member's view after the 403")
    expect_eq(text_of("#my-role"), "member", "role after refresh")
    expect(not driver().find_elements(By.ID, "billing"), "billing after refresh")


@test
def screenshots_are_kept():
    for key in ("owner_dashboard", "member_dashboard"):
        path = W.get(key)
        expect(path and os.path.getsize(path) > 10000, f"no {key} screenshot")
    print(f"# screenshots: {SHOTS} (owner: {os.path.basename(W['owner_dashboard'])}, "
          f"member: {os.path.basename(W['member_dashboard'])})", flush=True)


def _owner_token():
    """A session of the owner's own, for asking the API what it answers (scoped to the
    organization once there is one)."""
    st, _, b, raw = req("POST", "/v1/auth/login", body={"email": OWNER["email"], "password": OWNER["password"]})
    if st != 200:
        raise Failure(f"owner login: {st} {raw[:200]!r}")
    return b["token"]


if __name__ == "__main__":
    try:
        main()
    finally:
        quit_driver()
