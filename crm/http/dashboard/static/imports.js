/* The import pages' script, without a framework:
 * - progress, polled as dashboard.js polls a campaign's (`window.crmLive`): an element with
 *   data-import-progress-url polls that JSON endpoint every second and redraws from the server's
 *   answer (its bar, status, counts, summary and first rejected rows) until the import is
 *   completed or failed, then stops. Worded as import_macros.html words it;
 * - the upload form (data-max-bytes): a file over the server's limit is refused before it is
 *   sent, beside the file input, as the server would refuse it (413) after receiving it all.
 */
(function () {
  "use strict";

  var live = window.crmLive; // dashboard.js: each, setText, drawStatus, poll
  var each = live.each;
  var setText = live.setText;
  var BADGES = { running: "text-bg-primary", completed: "text-bg-success", failed: "text-bg-danger" };

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

  function startProgress(root) {
    var url = root.getAttribute("data-import-progress-url");

    function apply(p) {
      live.drawStatus(root, p, BADGES);
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

    live.poll(root, url, apply, function (p) { return p.final ? null : live.POLL_MS; });
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
