"""The dashboard's login session: a signed cookie, opened only off the API."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface


class DashboardSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except on the API (`/api/`), which authenticates with
    bearer keys and never reads a session: there a request gets Flask's null session, which
    is neither read from a cookie nor saved (opening one, a signer built and the cookie looked
    for, was 2.5% of a visit's web CPU)."""

    def open_session(self, app, request):
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)
