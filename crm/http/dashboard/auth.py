"""Login and logout pages. Five failed logins for one email in 15 minutes lock it for 15 minutes."""

from __future__ import annotations

import math

from flask import flash, redirect, render_template, request, url_for

from crm.adapters.operators import InvalidLogin, LoginLocked
from crm.http.dashboard.base import bp, dashboard, log_in, log_out, operator, safe_next
from crm.http.dashboard.forms import LoginForm


@bp.route("/login/", methods=["GET", "POST"])
def login():
    """Log in with email and password; then go back where the operator was (a safe `next`)."""
    form = LoginForm(next=safe_next(request.args.get("next")))
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            found = dashboard().operators.log_in(form.email.data, form.password.data)
        except LoginLocked as locked:
            minutes = math.ceil(locked.seconds_left / 60)
            form.form_errors.append(
                f"Too many failed logins for this email. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
            )
            status, headers = 429, {"Retry-After": str(locked.seconds_left)}
        except InvalidLogin:
            form.form_errors.append("Wrong email or password.")
        else:
            log_in(found)
            flash(f"Logged in as {found.email}.", "success")
            return redirect(safe_next(form.next.data) or url_for("dashboard.campaigns"))
    return render_template("dashboard/login.html", form=form), status, headers


@bp.route("/logout/", methods=["GET", "POST"])
def logout():
    """GET asks for confirmation; POST (with the CSRF token) ends the session."""
    if request.method == "GET":
        return render_template("dashboard/logout.html", email=operator().email)
    log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("dashboard.login"))
