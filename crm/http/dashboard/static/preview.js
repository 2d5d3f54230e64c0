/* The campaign form's live preview (a form with data-preview-url): the segment in words, the
 * audience that matches now and sample messages, redrawn as the operator types. Until the fields
 * it needs are filled in, it says which ones are left (never an error); once they are, a value
 * the server refuses is named with its field's label and the server's one message.
 */
(function () {
  "use strict";

  var DELAY_MS = 400;

  function paragraph(text, className) {
    var p = document.createElement("p");
    p.className = className;
    p.textContent = text;
    return p;
  }

  function labelOf(form, name) {
    var control = form.elements.namedItem(name);
    var label = control && control.id ? form.querySelector('label[for="' + control.id + '"]') : null;
    return label ? label.textContent.trim() : name;
  }

  // The controls the preview needs, left empty: their labels.
  function missing(form) {
    return Array.prototype.filter.call(form.querySelectorAll("[required]"), function (control) {
      return control.value.trim() === "";
    }).map(function (control) { return labelOf(form, control.name); });
  }

  // The segment option's text with N replaced by the value sent (the server accepted it); a
  // saved segment by its name.
  function segment(form, body) {
    var select = form.elements.namedItem("segment_type");
    var option = select && select.selectedOptions[0];
    if (!option) { return ""; }
    if (option.value === "segment") {
      return "Saved segment: " + form.elements.namedItem("segment").selectedOptions[0].textContent;
    }
    if (option.value === "rule") { return option.textContent; }
    var value = String(body.get("segment_value")).trim().replace(/^\$/, "");
    value = option.getAttribute("data-unit") === "dollars" ? Number(value).toFixed(2) : String(Number(value));
    return option.textContent.replace(/\bN\b/, value);
  }

  // Only the inputs the chosen kind of segment takes are shown (and required): a value for the
  // seed segments, a saved segment of the chosen restaurant otherwise.
  function segmentInputs(form) {
    var kind = form.elements.namedItem("segment_type").value;
    var value = form.elements.namedItem("segment_value");
    var saved = form.elements.namedItem("segment");
    if (!saved) { return; }
    var restaurant = form.elements.namedItem("restaurant");
    Array.prototype.forEach.call(saved.options, function (option) {
      var other = option.value !== "" && restaurant && option.getAttribute("data-restaurant") !== restaurant.value;
      option.hidden = option.disabled = other;
      if (other && option.selected) { saved.value = ""; }
    });
    saved.querySelectorAll("optgroup").forEach(function (group) {
      group.hidden = !group.querySelector("option:not([hidden])");
    });
    [[value, kind !== "segment" && kind !== "rule"], [saved, kind === "segment"]].forEach(function (pair) {
      pair[0].closest(".mb-3").hidden = !pair[1];
      pair[0].required = pair[1];
    });
  }

  function startPreview(form) {
    var out = document.getElementById("campaign-preview");
    var timer = null;
    var latest = 0;

    function show(data, body) {
      out.replaceChildren();
      if (data.errors) {
        out.appendChild(paragraph("No preview: " + Object.keys(data.errors).map(function (name) {
          return labelOf(form, name) + ": " + data.errors[name].join(" ");
        }).join(" "), "text-body-secondary mb-0"));
        return;
      }
      if (!data.samples) {
        out.appendChild(paragraph("No preview: " + (data.message || "the server did not answer."), "text-body-secondary mb-0"));
        return;
      }
      var line = paragraph(segment(form, body), "mb-1");
      line.setAttribute("data-field", "segment");
      out.appendChild(line);
      var count = paragraph("", "mb-2");
      var strong = document.createElement("strong");
      strong.setAttribute("data-field", "audience-count");
      strong.textContent = String(data.audience);
      count.appendChild(strong);
      count.appendChild(document.createTextNode(data.audience === 1 ? " customer matches now." : " customers match now."));
      out.appendChild(count);
      data.samples.forEach(function (sample) {
        var box = document.createElement("div");
        box.className = "border rounded p-2 mb-2 sample";
        var subject = document.createElement("div");
        subject.className = "fw-semibold";
        subject.textContent = sample.subject;
        var message = document.createElement("div");
        message.className = "message";
        message.textContent = sample.message;
        box.appendChild(subject);
        box.appendChild(message);
        out.appendChild(box);
      });
    }

    function refresh() {
      var request = ++latest; // an answer to an older request is dropped
      var empty = missing(form);
      if (empty.length > 0) {
        out.replaceChildren(paragraph("The audience and sample messages appear here once these are filled in: " +
          empty.join(", ") + ".", "text-body-secondary mb-0"));
        return;
      }
      var body = new FormData(form);
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": body.get("csrf_token") }
      })
        .then(function (response) { return response.json(); })
        .then(function (data) { if (request === latest) { show(data, body); } })
        .catch(function () { /* keep the last preview */ });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY_MS);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", function () { segmentInputs(form); later(); });
    segmentInputs(form);
    refresh();
  }

  document.querySelectorAll("form[data-preview-url]").forEach(startPreview);
})();
