/* The dashboard's live parts, without a framework:
 * - progress: an element with data-progress-url polls that JSON endpoint every second and updates
 *   its bar, counts, send rate, time left and controls (shown or hidden as the server's state
 *   allows, whoever changed it); a campaign that is final but still has a control (retry-failed)
 *   is polled every few seconds, one with no control left is no longer polled;
 * - confirm: a form with data-confirm asks before it submits.
 */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var IDLE_POLL_MS = 5000; // a draft or a finished campaign: only another operator changes it
  var RATE_WINDOW = 5; // samples: the rate is measured over the last few seconds
  var BADGES = {
    draft: "text-bg-secondary", running: "text-bg-primary", paused: "text-bg-warning",
    completed: "text-bg-success", cancelled: "text-bg-dark"
  };

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " min " + (seconds % 60) + " s"; }
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function setText(root, field, text) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) { el.textContent = text; });
  }

  function startProgress(root) {
    var url = root.getAttribute("data-progress-url");
    var samples = [];

    function apply(p) {
      var now = Date.now();
      samples.push({ t: now, done: p.done });
      if (samples.length > RATE_WINDOW) { samples.shift(); }
      var rate = p.rate;
      if (p.status === "running" && samples.length > 1) {
        var first = samples[0];
        var seconds = (now - first.t) / 1000;
        if (seconds > 0) { rate = (p.done - first.done) / seconds; }
      }
      root.querySelectorAll('[data-field="bar"]').forEach(function (bar) {
        bar.setAttribute("aria-valuenow", String(p.percent));
        var inner = bar.querySelector(".progress-bar");
        inner.style.width = p.percent + "%";
        inner.textContent = p.percent + "%";
        if (p.status !== "running") {
          inner.classList.remove("progress-bar-striped", "progress-bar-animated");
        }
        inner.classList.toggle("bg-success", p.status === "completed");
      });
      root.querySelectorAll('[data-field="status"]').forEach(function (badge) {
        badge.className = "badge " + (BADGES[p.status] || "text-bg-light");
        badge.textContent = p.status;
      });
      ["queued", "sent", "failed", "skipped", "done"].forEach(function (name) { setText(root, name, String(p[name])); });
      root.querySelectorAll('[data-field="audience"]').forEach(function (el) {
        el.textContent = p.audience === null ? (el.getAttribute("data-empty") || "\u2014") : String(p.audience);
      });
      setText(root, "rate", rate.toFixed(1));
      var left = p.audience === null ? null : p.audience - p.done;
      setText(root, "eta", p.status === "running" && left !== null && rate > 0 ? "about " + duration(left / rate) : "\u2014");
      // Every control is on the page: show exactly those the server's state allows now.
      document.querySelectorAll("[data-control]").forEach(function (control) {
        control.hidden = p.allowed.indexOf(control.getAttribute("data-control")) < 0;
      });
    }

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status === 401 || response.status === 404) { return null; } // logged out, or gone
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (p) {
          if (p === null) { return; }
          apply(p);
          if (!p.final && p.status !== "draft") { window.setTimeout(poll, POLL_MS); }
          else if (p.allowed.length > 0) { window.setTimeout(poll, IDLE_POLL_MS); }
        })
        .catch(function () { window.setTimeout(poll, POLL_MS * 5); });
    }

    window.setTimeout(poll, POLL_MS);
  }

  document.querySelectorAll("[data-progress-url]").forEach(startProgress);
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
