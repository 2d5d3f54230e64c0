/* The import pages' script, without a framework:
 * - progress, as dashboard.js does it for campaigns: an element with data-import-progress-url
 *   polls that JSON endpoint every second and redraws from the server's answer (its bar, status,
 *   counts, summary and first rejected rows) until the import is completed or failed, then stops.
 *   A poll answered 401 (or sent to the login page) means the session ended: the page says so in
 *   an alert and stops polling. Worded as import_macros.html words it;
 * - the upload form (data-max-bytes): a file over the server's limit is refused before it is
 *   sent, beside the file input, as the server would refuse it (413) after receiving it all.
 */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var BADGES = { running: "text-bg-primary", completed: "text-bg-success", failed: "text-bg-danger" };
  var SIGNED_OUT = "Signed out: live updates stopped, nothing was changed. ";

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function summary(p) {
    if (p.status === "running") { return "Importing " + plural(p.rows_total, "row") + "\u2026"; }
    if (p.status === "completed") {
      return "Import completed: " + p.imported + " imported, " + p.updated + " updated, " + p.unchanged +
        " unchanged, " + p.rejected + " rejected.";
    }
    return "Import failed: " + (p.error || "");
  }

  function rejectionsCount(p) {
    if (p.rejected > 0) {
      var shown = p.rejections.length < p.rejected ? "; the first " + p.rejections.length + " are shown" : "";
      return plural(p.rejected, "row") + " rejected" + shown + ".";
    }
    return p.final ? "No row was rejected." : "No row rejected so far.";
  }

  function each(root, field, action) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(action);
  }

  function setText(root, field, text) {
    each(root, field, function (el) { if (el.textContent !== text) { el.textContent = text; } });
  }

  function drawRejections(body, rows) {
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      [String(row.line), row.field, row.reason].forEach(function (text, n) {
        var td = document.createElement("td");
        td.className = n === 0 ? "text-end" : n === 2 ? "text-break" : "";
        td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function signedOut(root) {
    var box = document.getElementById("live-alerts");
    if (box === null) {
      box = document.createElement("div");
      box.id = "live-alerts";
      box.setAttribute("data-login-url", "/internal/login/?next=" +
        encodeURIComponent(window.location.pathname + window.location.search));
      var main = document.querySelector("main") || document.body;
      main.insertBefore(box, main.firstChild);
    }
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
    root.querySelectorAll(".progress-bar-animated").forEach(function (bar) {
      bar.classList.remove("progress-bar-striped", "progress-bar-animated");
    });
  }

  function startProgress(root) {
    var url = root.getAttribute("data-import-progress-url");

    function apply(p) {
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
        badge.className = "badge " + (BADGES[p.status] || "text-bg-light");
        badge.textContent = p.status;
      });
      ["rows_done", "imported", "updated", "unchanged", "rejected"].forEach(function (name) {
        setText(root, name, String(p[name]));
      });
      setText(root, "summary", summary(p));
      if (p.finished_at) { setText(root, "finished", new Date(p.finished_at).toISOString().slice(0, 19).replace("T", " ") + "\u00a0UTC"); }
      if (p.rejections) {
        setText(root, "rejections-count", rejectionsCount(p));
        each(root, "rejections", function (body) { drawRejections(body, p.rejections); });
        each(root, "rejections-table", function (el) { el.hidden = p.rejections.length === 0; });
        each(root, "download", function (el) { el.hidden = p.rejected === 0; });
      }
    }

    function poll() {
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
          if (!p.final) { window.setTimeout(poll, POLL_MS); }
        })
        .catch(function () { window.setTimeout(poll, POLL_MS * 5); });
    }

    window.setTimeout(poll, POLL_MS);
  }

  function checkSize(form) {
    var max = Number(form.getAttribute("data-max-bytes"));
    var input = form.querySelector('input[type="file"]');
    var error = document.getElementById(input.id + "-size-error");
    input.addEventListener("change", function () {
      error.hidden = true;
      input.classList.remove("is-invalid");
      input.removeAttribute("aria-invalid");
    });
    form.addEventListener("submit", function (event) {
      var file = input.files && input.files[0];
      if (!file || file.size <= max) { return; }
      event.preventDefault();
      error.hidden = false;
      input.classList.add("is-invalid");
      input.setAttribute("aria-invalid", "true");
      input.focus();
    });
  }

  document.querySelectorAll("[data-import-progress-url]").forEach(startProgress);
  document.querySelectorAll("form[data-max-bytes]").forEach(checkSize);
})();
