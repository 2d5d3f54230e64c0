"""Dashboard login: every page needs it, the lockout, logout, the session cookie, CSRF, the API untouched."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from crm.http import create_app
from tests.e2e.dashboard_support import (
    LOGIN,
    OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
    DashboardClient,
    csrf_of,
    redirects_to_login,
    text_of,
)
from tests.e2e.e2e_support import bring_to

_ARGUMENT = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
PUBLIC = {"/internal/login/", "/internal/static/<path:filename>"}


def dashboard_calls(app, ids: dict[str, str]) -> list[tuple[str, str]]:
    """(method, path) for every method of every /internal/ rule, with ids filled in.

    Fails on an argument it does not know, so a new page cannot escape these tests.
    """
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/internal/") or rule.rule in PUBLIC:
            continue
        paths = [rule.rule]
        for converter, options, name in _ARGUMENT.findall(rule.rule):
            if converter == "any":
                choices = [choice.strip().strip("'\"") for choice in options.split(",")]
                paths = [p.replace(f"<any({options}):{name}>", c) for p in paths for c in choices]
            elif converter == "path":  # the dashboard's own 404 page for any other path
                paths = [p.replace(f"<path:{name}>", "no/such/page/") for p in paths]
            else:
                assert converter == "uuid" and name in ids, f"{rule.rule}: teach the dashboard tests about {name}"
                paths = [p.replace(f"<uuid:{name}>", ids[name]) for p in paths]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            calls.extend((method, path) for path in paths)
    return calls


def test_every_page_and_control_sends_a_visitor_to_the_login_page(app, visitor, make, operator_account):
    restaurant = make.restaurant()
    customer = make.customer(restaurant)
    campaign = make.campaign(restaurant)
    rule = {"all": [{"field": "visit_count", "op": "gte", "value": 1}]}
    body = {"restaurant": restaurant["id"], "name": "Regulars", "rule": rule}
    segment = make.admin.post("/api/segments/", json=body).get_json()
    imported = make.upload(restaurant, "customers", b"email\nann@example.com\n")
    ids = {
        "campaign_id": campaign["id"],
        "customer_id": customer["id"],
        "segment_id": segment["id"],
        "import_id": imported["id"],
    }
    calls = dashboard_calls(app, ids)
    assert len(calls) >= 15, calls
    for method, path in calls:
        response = visitor.client.open(path, method=method, data={"name": "Renamed", "csrf_token": "forged"})
        if path.endswith(".json"):
            assert response.status_code == 401 and response.is_json, (method, path)
        else:
            assert redirects_to_login(response), (method, path, response.status_code)
    # Check nothing changed: the controls and forms did nothing.
    current = make.get(f"/api/campaigns/{campaign['id']}/")
    assert current["status"] == "draft" and current["name"] == campaign["name"]
    assert make.get("/api/campaigns/")["count"] == 1
    assert make.get(f"/api/segments/{segment['id']}/")["name"] == "Regulars"
    assert make.get("/api/imports/")["count"] == 1


def test_a_page_asked_for_before_login_is_shown_after_it(visitor, operator_account):
    response = visitor.get("/internal/customers/?q=ann")
    assert response.headers["Location"] == "/internal/login/?next=/internal/customers/?q%3Dann"
    login_page = visitor.get(response.headers["Location"])
    token = csrf_of(login_page)
    assert 'name="next" type="hidden" value="/internal/customers/?q=ann"' in login_page.get_data(as_text=True)
    form = {"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD, "csrf_token": token}
    answer = visitor.client.post(LOGIN, data={**form, "next": "/internal/customers/?q=ann"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/internal/customers/?q=ann"


HOSTILE_NEXT = [
    "https://evil.example/",
    "//evil.example/internal/",
    "/api/",
    "/\\evil",
    "/\\/evil.example/internal/",
    "https:/internal/",
    "http://127.0.0.1/internal/",
    "/internal/\t/evil",
    "/\t/evil.example/internal/",
    "/internal/\r\nLocation: https://evil.example/",
    "javascript:alert(1)//internal/",
    " //evil.example/internal/",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_never_redirects_off_the_dashboard(visitor, operator_account, target):
    login_page = visitor.get(LOGIN, query_string={"next": target})
    assert 'name="next" type="hidden" value=""' in login_page.get_data(as_text=True)  # not carried along
    response = visitor.log_in(next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/internal/campaigns/"


def test_a_control_posted_after_a_logout_elsewhere_says_it_did_not_run_and_login_returns_to_its_page(
    dash, make, container, restaurant
):
    campaign = bring_to(make, container, make.campaign(restaurant), "running")
    page = f"/internal/campaigns/{campaign['id']}/"
    token = csrf_of(dash.get(page))
    dash.post("/internal/logout/")  # another tab: the same cookies
    # Check the page's poll learns it (401, no redirect to follow) and its control does nothing.
    assert dash.get(page + "progress.json").status_code == 401
    referrer = {"Referer": f"http://localhost{page}?status=sent"}
    response = dash.client.post(page + "pause/", data={"csrf_token": token}, headers=referrer)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{LOGIN}?next={page}?status%3Dsent"
    login_page = dash.get(response.headers["Location"])
    assert 'role="alert">Signed out: Pause did not run, nothing was changed.' in text_of(login_page)
    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "running"
    # Check the login goes back to the campaign's page, where the control can be used again.
    form = {"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD, "csrf_token": csrf_of(login_page)}
    answer = dash.client.post(LOGIN, data={**form, "next": f"{page}?status=sent"})
    assert answer.status_code == 302 and answer.headers["Location"] == f"{page}?status=sent"


def test_a_post_from_another_site_or_without_a_referrer_returns_to_the_list_after_login(dash, make, restaurant):
    campaign = make.campaign(restaurant)
    dash.post("/internal/logout/")
    for headers in ({}, {"Referer": "https://evil.example/internal/campaigns/"}, {"Referer": "/internal/x/"}):
        response = dash.client.post(f"/internal/campaigns/{campaign['id']}/run/", headers=headers)
        assert response.status_code == 302 and response.headers["Location"] == LOGIN, headers
    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "draft"


def test_a_session_past_its_lifetime_is_signed_out(dash, make, restaurant, monkeypatch):
    campaign = make.campaign(restaurant)
    page = f"/internal/campaigns/{campaign['id']}/"
    assert dash.get(page + "progress.json").status_code == 200
    later = int(time.time()) + 12 * 3600 + 60  # sessions last 12 hours
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    assert dash.get(page + "progress.json").status_code == 401
    assert dash.get(page).headers["Location"] == f"{LOGIN}?next={page}"


def test_a_new_password_ends_the_sessions_logged_in_with_the_old_one(dash, client, operator_accounts):
    other = DashboardClient(client.application.test_client())  # a second browser
    assert other.log_in().status_code == 302
    page = "/internal/campaigns/"
    assert dash.get(page).status_code == 200 and other.get(page).status_code == 200
    operator_accounts.set_password(OPERATOR_EMAIL, "a new passphrase")
    assert redirects_to_login(dash.get(page)) and redirects_to_login(other.get(page))
    assert "Wrong email or password." in text_of(dash.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD))
    assert dash.log_in(OPERATOR_EMAIL, "a new passphrase").status_code == 302
    assert dash.get(page).status_code == 200
    # The same password set again is a new password too (a new salt): its session ends.
    operator_accounts.set_password(OPERATOR_EMAIL, "a new passphrase")
    assert redirects_to_login(dash.get(page))


def test_removing_an_operator_ends_their_sessions_at_the_next_request(dash, operator_accounts):
    assert dash.get("/internal/campaigns/").status_code == 200
    operator_accounts.remove(OPERATOR_EMAIL)
    assert redirects_to_login(dash.get("/internal/campaigns/"))


def test_the_session_cookie_holds_a_stamp_of_the_password_not_its_hash(dash, client, container):
    from flask.sessions import SecureCookieSessionInterface

    from crm.adapters.operators import operators

    serializer = SecureCookieSessionInterface().get_signing_serializer(client.application)
    stored = serializer.loads(client.get_cookie("session").value)
    with container.application.factory.datastore.transaction(commit=False) as session:
        password_hash = session.execute(
            select(operators.c.password_hash).where(operators.c.email == OPERATOR_EMAIL)
        ).scalar_one()
    salt, digest = password_hash.split("$")[1:]
    assert stored["operator"] == OPERATOR_EMAIL and len(stored["password_stamp"]) == 32
    assert not any(part in repr(stored) for part in (password_hash, salt, digest))


def test_wrong_password_or_unknown_email_is_refused_without_a_session(visitor, operator_account):
    for email, password in ((OPERATOR_EMAIL, "wrong password"), ("nobody@example.com", OPERATOR_PASSWORD)):
        response = visitor.log_in(email, password)
        assert response.status_code == 200 and "Wrong email or password." in text_of(response)
        assert redirects_to_login(visitor.get("/internal/campaigns/"))


def test_login_without_the_csrf_token_is_refused(visitor, operator_account):
    response = visitor.client.post(LOGIN, data={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})
    assert response.status_code == 400
    assert redirects_to_login(visitor.get("/internal/campaigns/"))


def test_five_failed_logins_lock_the_email_for_15_minutes(visitor, operator_account, clock):
    for _ in range(5):
        assert "Wrong email or password." in text_of(visitor.log_in(OPERATOR_EMAIL, "wrong password"))
    # Check even the right password is refused now, and for 15 minutes.
    locked = visitor.log_in()
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "900"
    assert "Too many failed logins for this email. Try again in 15 minutes." in text_of(locked)
    clock.advance(minutes=14)
    locked = visitor.log_in()
    assert locked.status_code == 429 and "Try again in 1 minute." in text_of(locked)
    assert redirects_to_login(visitor.get("/internal/campaigns/"))
    clock.advance(minutes=1)
    assert visitor.log_in().status_code == 302
    assert visitor.get("/internal/campaigns/").status_code == 200


def test_failures_of_another_email_do_not_lock_this_one(visitor, operator_account):
    for _ in range(6):
        visitor.log_in("intruder@example.com", "guess")
    assert visitor.log_in().status_code == 302


def test_logout_asks_then_ends_the_session_and_needs_the_csrf_token(dash):
    page = dash.get("/internal/logout/")
    assert page.status_code == 200 and f"logged in as <strong>{OPERATOR_EMAIL}</strong>" in text_of(page)
    assert dash.post("/internal/logout/", csrf=False).status_code == 400
    assert dash.get("/internal/campaigns/").status_code == 200  # still logged in
    response = dash.post("/internal/logout/", follow_redirects=True)
    assert response.request.path == LOGIN and "You are logged out." in text_of(response)
    assert redirects_to_login(dash.get("/internal/campaigns/"))


def session_cookie(response) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_when_configured(client, container, operator_account):
    cookie = session_cookie(DashboardClient(client).log_in())
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = dataclasses.replace(container.settings, session_cookie_secure=True)
    secure = create_app(settings=https, container=container)
    cookie = session_cookie(DashboardClient(secure.test_client()).log_in())
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_the_api_needs_no_csrf_token_and_ignores_the_dashboard_session(dash, admin, make):
    # Check the API's writes work without a CSRF token (bearer keys, no cookies to forge with).
    restaurant = make.restaurant()
    assert admin.put(f"/api/restaurants/{restaurant['id']}/", json={"name": "Renamed"}).status_code == 200
    # Check a dashboard session opens no door of the API.
    assert dash.get("/api/restaurants/").status_code == 401
    assert dash.client.post("/api/restaurants/", json={"name": "X"}).status_code == 401
    # Check the API neither reads nor writes the session (the dashboard's cookie goes with each
    # request from this browser): no cookie set, nothing varies on it, the session still stands.
    assert dash.client.get_cookie("session") is not None
    for response in (admin.get("/api/restaurants/"), admin.post("/api/restaurants/", json={"name": "New"})):
        assert response.status_code in (200, 201)
        assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    assert dash.get("/internal/campaigns/").status_code == 200


def test_pages_use_bootstrap_from_the_package_and_refuse_framing(dash, visitor):
    page = dash.get("/internal/campaigns/")
    body = page.get_data(as_text=True)
    assert '<link rel="stylesheet" href="/bootstrap/static/css/bootstrap.min.css">' in body
    assert "/bootstrap/static/js/bootstrap.min.js" in body
    assert not re.search(r'(src|href)="(https?:)?//', body), "a page loads something from another site"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    for asset in ("/bootstrap/static/css/bootstrap.min.css", "/internal/static/dashboard.js"):
        assert visitor.get(asset).status_code == 200, asset


def test_browser_pages_carry_the_security_headers_and_hsts_only_over_https(
    dash, app, client, container, make, restaurant
):
    customer = make.customer(restaurant)
    link = "/u/" + container.unsubscribe_links.token(uuid.UUID(customer["id"]), uuid.uuid4())
    for page in (dash.get("/internal/campaigns/"), client.get(link), client.get("/internal/login/")):
        assert page.status_code == 200
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "same-origin"
        policy = page.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src" not in policy  # no inline scripts
        assert "Strict-Transport-Security" not in page.headers  # plain HTTP: no HSTS
    app.config["SESSION_COOKIE_SECURE"] = True
    assert client.get(link).headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
