/* The dashboard's live parts, without a framework:
 * - progress: an element with data-progress-url polls that JSON endpoint every second and redraws
 *   from the server's answer each time: its bar, counts, audience, send rate and time left (the
 *   server measures them; none while paused) and its controls (shown or hidden as the server's
 *   state allows, whoever changed it); a campaign that is final but still has a control
 *   (retry-failed) is polled every few seconds, one with no control left is no longer polled.
 *   A poll answered 401 (or sent to the login page) means the session ended: the page says so
 *   in an alert and stops polling (`window.crmLive` lends the polling to the pages' own scripts);
 * - confirm: a form with data-dialog (a GET of the control's confirmation page, for a browser
 *   without this script) opens that <dialog> instead, which asks and posts the control.
 */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var IDLE_POLL_MS = 5000; // a draft or a finished campaign: only another operator changes it
  var BADGES = {
    draft: "text-bg-secondary", scheduled: "text-bg-info", running: "text-bg-primary", paused: "text-bg-warning",
    completed: "text-bg-success", cancelled: "text-bg-dark"
  };
  var DASH = "\u2014";
  var SIGNED_OUT = "Signed out: live updates stopped, nothing was changed. ";

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " min " + (seconds % 60) + " s"; }
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  // Worded as the pages word them (_macros.html: audience_text, rate_text, eta_text).
  function audienceText(p) {
    if (p.audience !== null) { return String(p.audience); }
    if (p.matching) { return p.matching.count + " match now"; }
    return p.status === "running" || p.status === "paused" ? "being resolved" : DASH;
  }

  function rateText(p) {
    if (p.rate !== null) { return p.rate.toFixed(1) + " per second"; }
    return p.status === "running" ? "measuring\u2026" : DASH;
  }

  function etaText(p) {
    if (p.eta_seconds !== null) { return "about " + duration(p.eta_seconds); }
    return p.status === "running" ? "estimating\u2026" : DASH;
  }

  function each(root, field, action) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(action);
  }

  // Text that did not change is left alone: a live region would announce it again.
  function setText(root, field, text) {
    each(root, field, function (el) { if (el.textContent !== text) { el.textContent = text; } });
  }

  // Where the alert goes: the page's #live-alerts, else the top of <main>.
  function alertBox() {
    var box = document.getElementById("live-alerts");
    if (box === null) {
      box = document.createElement("div");
      box.id = "live-alerts";
      box.setAttribute("data-login-url", "/internal/login/?next=" +
        encodeURIComponent(window.location.pathname + window.location.search));
      var main = document.querySelector("main") || document.body;
      main.insertBefore(box, main.firstChild);
    }
    return box;
  }

  function signedOut(root) {
    var box = alertBox();
    if (box.querySelector("[data-signed-out]")) { return; }
    var alert = document.createElement("div");
    alert.className = "alert alert-warning";
    alert.setAttribute("role", "alert");
    alert.setAttribute("data-signed-out", "");
    alert.appendChild(document.createTextNode(SIGNED_OUT));
    var login = document.createElement("a");
    login.href = box.getAttribute("data-login-url");
    login.textContent = "Log in again";
    alert.appendChild(login);
    alert.appendChild(document.createTextNode(" to see where it stands."));
    box.appendChild(alert);
    // What the page still shows is no longer live: no rate, no estimate, no motion.
    setText(root, "rate", DASH);
    setText(root, "eta", DASH);
    root.querySelectorAll(".progress-bar-animated").forEach(function (bar) {
      bar.classList.remove("progress-bar-striped", "progress-bar-animated");
    });
  }

  // The bar (striped while running, green once completed, red once failed) and the status badge.
  function drawStatus(root, p, badges) {
    each(root, "bar", function (bar) {
      bar.setAttribute("aria-valuenow", String(p.percent));
      var inner = bar.querySelector(".progress-bar");
      inner.style.width = p.percent + "%";
      inner.textContent = p.percent + "%";
      inner.classList.toggle("progress-bar-striped", p.status === "running");
      inner.classList.toggle("progress-bar-animated", p.status === "running");
      inner.classList.toggle("bg-success", p.status === "completed");
      inner.classList.toggle("bg-danger", p.status === "failed");
    });
    each(root, "status", function (badge) {
      badge.className = "badge " + (badges[p.status] || "text-bg-light");
      badge.textContent = p.status;
    });
  }

  function startProgress(root) {
    var url = root.getAttribute("data-progress-url");

    function apply(p) {
      drawStatus(root, p, BADGES);
      // What holds only in one status (a scheduled campaign's start time) goes when it changes.
      root.querySelectorAll("[data-shown-when]").forEach(function (el) {
        el.hidden = el.getAttribute("data-shown-when") !== p.status;
      });
      ["queued", "sent", "failed", "skipped", "done"].forEach(function (name) { setText(root, name, String(p[name])); });
      setText(root, "audience", audienceText(p));
      setText(root, "rate", rateText(p));
      setText(root, "eta", etaText(p));
      // A running campaign waiting for its restaurant's sending hours says until when.
      root.querySelectorAll('[data-field="waiting"]').forEach(function (el) {
        el.hidden = !p.waiting;
        el.textContent = p.waiting ? p.waiting.text : "";
      });
      if (p.matching) {
        setText(root, "matching-customers", p.matching.count + (p.matching.count === 1 ? " customer" : " customers"));
        setText(root, "matching-unsubscribed", String(p.matching.unsubscribed));
      }
      // Every control is on the page: show exactly those the server's state allows now, and
      // close the question of one that no longer applies.
      document.querySelectorAll("[data-control]").forEach(function (control) {
        control.hidden = p.allowed.indexOf(control.getAttribute("data-control")) < 0;
        var dialog = control.hasAttribute("data-dialog") && document.getElementById(control.getAttribute("data-dialog"));
        if (control.hidden && dialog && dialog.open) { dialog.close(); }
      });
    }

    poll(root, url, apply, function (p) {
      if (!p.final && p.status !== "draft") { return POLL_MS; }
      return p.allowed.length > 0 ? IDLE_POLL_MS : null;
    });
  }

  // Poll `url` for JSON a second from now: `apply` each answer, then wait as long as `next(p)`
  // says (null: stop). A session that ended stops it (`signedOut`); an error waits longer.
  function poll(root, url, apply, next) {
    function once() {
      fetch(url, {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store", redirect: "manual"
      })
        .then(function (response) {
          if (response.status === 401 || response.type === "opaqueredirect") { signedOut(root); return null; }
          if (response.status === 404) { return null; } // gone
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (p) {
          if (p === null) { return; }
          apply(p);
          var wait = next(p);
          if (wait !== null) { window.setTimeout(once, wait); }
        })
        .catch(function () { window.setTimeout(once, POLL_MS * 5); });
    }

    window.setTimeout(once, POLL_MS);
  }

  function confirmFirst(form) {
    var dialog = document.getElementById(form.getAttribute("data-dialog"));
    if (dialog === null || typeof dialog.showModal !== "function") { return; } // its page asks instead
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      dialog.showModal();
    });
  }

  // For the pages' own scripts (imports.js), loaded after this one.
  window.crmLive = { each: each, setText: setText, drawStatus: drawStatus, poll: poll, POLL_MS: POLL_MS };

  document.querySelectorAll("[data-progress-url]").forEach(startProgress);
  document.querySelectorAll("form[data-dialog]").forEach(confirmFirst);
})();
