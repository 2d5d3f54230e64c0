/* The segment builder (segment_form.html): rows of conditions, and groups of them one level
 * deep, under "all" or "any". The rule is kept as JSON in the form's `rule` text area, which the
 * builder hides and writes as the operator edits; a rule the builder cannot draw (a "not", groups
 * inside groups) stays in the text area, visible. Either way, the rule is counted as it changes
 * (debounced): how many customers match now and a few of them, or why it cannot be counted yet:
 * a condition left incomplete (said here, not sent), or the server's refusal, named in words and
 * marked on its control.
 *
 * The catalogue (fields, their comparisons and what each asks for) comes from the server
 * (crm/http/dashboard/segment_words.py), which takes it from the write model's allow-list.
 */
(function () {
  "use strict";

  var DELAY_MS = 300;
  var DOLLARS = /^\$?([0-9]+(?:\.[0-9]{1,2})?|\.[0-9]{1,2})$/; // as the campaign form reads dollars
  var WHOLE = /^[0-9]+$/;

  var form = document.getElementById("segment-form");
  var builder = document.getElementById("segment-builder");
  if (!form || !builder) { return; }
  var catalogue = JSON.parse(document.getElementById("segment-catalogue").textContent);
  var fields = {};
  catalogue.fields.forEach(function (field) { fields[field.value] = field; });
  var ruleArea = form.elements.namedItem("rule");
  var out = document.getElementById("segment-count");
  var status = document.getElementById("builder-status");
  var topRows = builder.querySelector("[data-rows]");
  var nextId = 0;

  // -- elements ---------------------------------------------------------------------------------

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attributes.text; } else { node.setAttribute(name, attributes[name]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function uid() { nextId += 1; return "sb-" + nextId; }

  // A control in a grid cell, its label above it (the row's legend says which condition it is).
  function labelled(text, control) {
    control.id = control.id || uid();
    var label = el("label", { "for": control.id, "class": "form-label small mb-1", text: text });
    return el("div", { "class": "col-12 col-sm-6" }, [label, control]);
  }

  function select(part, options, value) {
    var control = el("select", { "class": "form-select form-select-sm", "data-part": part });
    options.forEach(function (option) {
      control.appendChild(el("option", { value: option.value, text: option.label }));
    });
    if (value !== undefined && value !== null) { control.value = String(value); }
    return control;
  }

  function input(part, attributes) {
    var base = { "class": "form-control form-control-sm", "data-part": part, autocomplete: "off" };
    return el("input", Object.assign(base, attributes));
  }

  // -- values as the inputs show them -----------------------------------------------------------

  function shown(unit, value) {
    if (value === undefined || value === null || value === "") { return ""; }
    return unit === "dollars" && typeof value === "number" ? (value / 100).toFixed(2) : String(value);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function localMoment(iso) {
    var moment = new Date(iso);
    if (isNaN(moment.getTime())) { return ""; }
    return moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" + pad(moment.getDate()) +
      "T" + pad(moment.getHours()) + ":" + pad(moment.getMinutes());
  }

  function amountInput(unit, label, value) {
    var control = unit === "dollars"
      ? input("value", { type: "text", inputmode: "decimal", placeholder: "0.00" })
      : input("value", { type: "number", min: "0", step: "1", inputmode: "numeric" });
    control.value = shown(unit, value);
    return labelled(unit === "dollars" ? label + " ($)" : label, control);
  }

  function campaignsOf(restaurant) {
    return catalogue.campaigns.filter(function (c) { return c.restaurant === restaurant; })
      .map(function (c) { return { value: c.id, label: c.name }; });
  }

  function restaurant() {
    var chosen = form.elements.namedItem("restaurant");
    return chosen ? chosen.value : form.getAttribute("data-restaurant");
  }

  function campaignSelect(value) {
    var options = campaignsOf(restaurant());
    var control = select("campaign", options.length ? options : [{ value: "", label: "(no campaign yet)" }], value);
    return extra(labelled("Campaign", control));
  }

  // The inputs an operator fills in for a comparison (`input` in the catalogue).
  function valueInputs(field, op, value) {
    var kind = op.input;
    if (kind === "amount") { return [amountInput(field.unit, field.unit === "dollars" ? "Amount" : "Number", value)]; }
    if (kind === "range") {
      var pair = Array.isArray(value) ? value : [];
      return [amountInput(field.unit, "From", pair[0]), amountInput(field.unit, "To", pair[1])];
    }
    if (kind === "days") {
      var days = input("value", { type: "number", min: "0", max: String(catalogue.max_days), step: "1", inputmode: "numeric" });
      days.value = shown("count", value);
      return [labelled("Days", days)];
    }
    if (kind === "moment") {
      var moment = input("value", { type: "datetime-local" });
      moment.value = value ? localMoment(value) : "";
      return [labelled("Date and time (your time zone)", moment)];
    }
    if (kind === "consent") {
      var consents = catalogue.consents.map(function (c) { return { value: c, label: c }; });
      return [labelled("Consent", select("value", consents, value))];
    }
    if (kind === "yesno") {
      var answers = [{ value: "true", label: "yes" }, { value: "false", label: "no" }];
      return [labelled("Yes or no", select("value", answers, value === undefined ? "true" : value))];
    }
    return [];
  }

  // -- rows ---------------------------------------------------------------------------------------

  function rowsOf(list) {
    return Array.prototype.filter.call(list.children, function (child) { return child.hasAttribute("data-kind"); });
  }

  function opOf(row) {
    var field = fields[row.querySelector('[data-part="field"]').value];
    var chosen = row.querySelector('[data-part="op"]').value;
    return field.ops.filter(function (op) { return op.value === chosen; })[0] || field.ops[0];
  }

  function extra(cell) { cell.setAttribute("data-extra", ""); return cell; }

  // Redraw what depends on the field (its comparisons, days, campaign) and on the comparison
  // (the value inputs), keeping what still applies. The row remembers what it drew last.
  function redraw(row, node) {
    node = node || {};
    var field = fields[row.querySelector('[data-part="field"]').value];
    var opSelect = row.querySelector('[data-part="op"]');
    var keepOp = node.op || opSelect.value;
    opSelect.replaceChildren.apply(opSelect, field.ops.map(function (op) { return el("option", { value: op.value, text: op.label }); }));
    if (field.ops.some(function (op) { return op.value === keepOp; })) { opSelect.value = keepOp; }
    var op = opOf(row);

    var kept = {};
    var cells = Array.prototype.slice.call(row.querySelectorAll("[data-extra]"));
    cells.forEach(function (cell) {
      var control = cell.querySelector("[data-part]");
      kept[control.getAttribute("data-part")] = control.value;
    });
    var sameValue = !("value" in node) && row.getAttribute("data-input") === op.input && row.getAttribute("data-unit") === field.unit;
    cells.forEach(function (cell) {
      if (!(sameValue && cell.querySelector('[data-part="value"]'))) { cell.remove(); }
    });
    var opCell = opSelect.parentNode;
    if (field.days) {
      var days = input("days", { type: "number", min: "1", max: String(catalogue.max_days), step: "1", inputmode: "numeric" });
      days.value = "days" in node ? shown("count", node.days) : (kept.days || "");
      opCell.before(extra(labelled("In the last N days", days)));
    }
    if (field.campaign) { opCell.before(campaignSelect(node.campaign || kept.campaign)); }
    if (!sameValue) {
      var removeCell = row.querySelector("[data-remove]").parentNode;
      valueInputs(field, op, node.value).forEach(function (cell) { removeCell.before(extra(cell)); });
    }
    row.setAttribute("data-input", op.input);
    row.setAttribute("data-unit", field.unit);
  }

  function conditionRow(node) {
    node = node || {};
    var legend = el("legend", { "class": "fs-6 fw-semibold mb-1" });
    var field = select("field", catalogue.fields.map(function (f) { return { value: f.value, label: f.label }; }),
      node.field || catalogue.fields[0].value);
    var remove = el("button", { type: "button", "class": "btn btn-outline-danger btn-sm", "data-remove": "", text: "Remove" });
    var grid = el("div", { "class": "row g-2 align-items-end" }, [
      labelled("Field", field),
      labelled("Comparison", select("op", [])),
      el("div", { "class": "col-12 d-flex justify-content-end" }, [remove])
    ]);
    var row = el("li", { "class": "border rounded p-2 mb-2 segment-row", "data-kind": "condition" }, [
      el("fieldset", {}, [legend, grid])
    ]);
    redraw(row, node);
    return row;
  }

  function modeChoice(mode) {
    var name = uid();
    var set = el("fieldset", { "class": "mb-2", "data-mode": "" }, [el("legend", { "class": "fs-6 mb-1" })]);
    ["all", "any"].forEach(function (value) {
      var radio = el("input", { "class": "form-check-input", type: "radio", name: name, id: name + "-" + value, value: value });
      radio.checked = value === mode;
      set.appendChild(el("div", { "class": "form-check form-check-inline" }, [
        radio, el("label", { "class": "form-check-label", "for": radio.id, text: value + " of these conditions" })
      ]));
    });
    return set;
  }

  function groupRow(node) {
    var mode = node && node.any ? "any" : "all";
    var list = el("ol", { "class": "list-unstyled mb-2", "data-rows": "" });
    ((node && node[mode]) || [{}]).forEach(function (child) { list.appendChild(conditionRow(child)); });
    var row = el("li", { "class": "border border-primary-subtle rounded p-2 mb-2 segment-group", "data-kind": "group" }, [
      el("fieldset", {}, [
        el("legend", { "class": "fs-6 fw-semibold mb-1" }),
        modeChoice(mode),
        list,
        el("div", { "class": "d-flex flex-wrap gap-2" }, [
          el("button", { type: "button", "class": "btn btn-outline-primary btn-sm", "data-add": "condition", text: "Add condition" }),
          el("button", { type: "button", "class": "btn btn-outline-danger btn-sm", "data-remove": "", text: "Remove group" })
        ])
      ])
    ]);
    return row;
  }

  // Rows are numbered as the server names them in its errors ("Group 2, condition 1").
  function renumber() {
    rowsOf(topRows).forEach(function (row, n) {
      var kind = row.getAttribute("data-kind");
      var name = (kind === "group" ? "Group " : "Condition ") + (n + 1);
      row.querySelector("legend").textContent = name;
      row.querySelector(":scope > fieldset > div > [data-remove], :scope > fieldset > .row [data-remove]") // its own
        .setAttribute("aria-label", "Remove " + name.toLowerCase());
      if (kind === "group") {
        var legend = row.querySelector(":scope > fieldset > [data-mode] > legend");
        legend.replaceChildren(el("span", { "class": "visually-hidden", text: name + ": " }), "Customers who match");
        row.querySelector(":scope > fieldset > div > [data-add]").setAttribute("aria-label", "Add condition to " + name.toLowerCase());
        rowsOf(row.querySelector("[data-rows]")).forEach(function (inner, m) {
          inner.querySelector("legend").textContent = "Condition " + (m + 1);
          inner.querySelector("[data-remove]").setAttribute("aria-label", "Remove condition " + (m + 1) + " of " + name.toLowerCase());
        });
      }
    });
  }

  function firstControl(row) { return row.querySelector("input, select"); }

  // -- the rule -----------------------------------------------------------------------------------

  function modeOf(container) {
    var checked = container.querySelector(":scope > [data-mode] input:checked");
    return checked ? checked.value : "all";
  }

  // The condition a row describes, and what is missing or malformed in it (`problems`).
  function conditionOf(row, where, problems) {
    var field = fields[row.querySelector('[data-part="field"]').value];
    var op = opOf(row);
    var node = { field: field.value, op: op.value };

    function need(control, message) { problems.push({ control: control, message: where + ": " + message }); }

    function amount(control) {
      var text = control.value.trim();
      if (field.unit === "dollars") {
        var match = DOLLARS.exec(text);
        if (!match) { need(control, "enter an amount in dollars, such as 500 or 12.50"); return text; }
        return Math.round(parseFloat(match[1]) * 100);
      }
      return whole(control, "enter a whole number, such as 3");
    }

    function whole(control, message) {
      var text = control.value.trim();
      if (!WHOLE.test(text)) { need(control, message); return text; }
      return parseInt(text, 10);
    }

    var values = row.querySelectorAll('[data-part="value"]');
    if (field.days) {
      var days = row.querySelector('[data-part="days"]');
      node.days = whole(days, "enter a number of days, such as 30");
    }
    if (field.campaign) {
      var campaign = row.querySelector('[data-part="campaign"]');
      if (!campaign.value) { need(campaign, "this restaurant has no campaign yet"); }
      node.campaign = campaign.value;
    }
    if (op.input === "amount") { node.value = amount(values[0]); }
    else if (op.input === "range") {
      node.value = [amount(values[0]), amount(values[1])];
      if (typeof node.value[0] === "number" && typeof node.value[1] === "number" && node.value[0] > node.value[1]) {
        need(values[1], "the second amount must not be below the first");
      }
    } else if (op.input === "days") {
      node.value = whole(values[0], "enter a number of days, such as 30");
    } else if (op.input === "moment") {
      var moment = values[0].value ? new Date(values[0].value) : null;
      if (moment && !isNaN(moment.getTime())) { node.value = moment.toISOString().replace(/(\.000)?Z$/, "+00:00"); }
      else { need(values[0], "enter a date and time"); node.value = values[0].value; }
    } else if (op.input === "consent") { node.value = values[0].value; }
    else if (op.input === "yesno") { node.value = values[0].value === "true"; }
    return node;
  }

  function ruleOf(problems) {
    var rows = rowsOf(topRows);
    if (rows.length === 0) { problems.push({ control: builder.querySelector("[data-add]"), message: "Add a condition" }); }
    var children = rows.map(function (row, n) {
      if (row.getAttribute("data-kind") === "condition") { return conditionOf(row, "Condition " + (n + 1), problems); }
      var inner = rowsOf(row.querySelector("[data-rows]"));
      if (inner.length === 0) {
        problems.push({ control: row.querySelector("[data-add]"), message: "Group " + (n + 1) + ": add a condition, or remove the group" });
      }
      var group = {};
      group[modeOf(row.querySelector("fieldset"))] = inner.map(function (child, m) {
        return conditionOf(child, "Group " + (n + 1) + ", condition " + (m + 1), problems);
      });
      return group;
    });
    var rule = {};
    rule[modeOf(builder)] = children;
    return rule;
  }

  // The builder can draw {"all"|"any": [conditions and groups of conditions]} (or one condition).
  function drawable(rule) {
    function isCondition(node) {
      return node && typeof node === "object" && !Array.isArray(node) && fields[node.field] &&
        fields[node.field].ops.some(function (op) { return op.value === node.op; });
    }
    function listOf(node) {
      if (!node || typeof node !== "object" || Array.isArray(node) || Object.keys(node).length !== 1) { return null; }
      var list = node.all || node.any;
      return Array.isArray(list) && list.length > 0 ? list : null;
    }
    if (isCondition(rule)) { return { all: [rule] }; }
    var top = listOf(rule);
    if (!top) { return null; }
    var ok = top.every(function (child) {
      if (isCondition(child)) { return true; }
      var inner = listOf(child);
      return inner !== null && inner.every(isCondition);
    });
    return ok ? rule : null;
  }

  // -- the count ----------------------------------------------------------------------------------

  var timer = null;
  var latest = 0;
  var useBuilder = false;

  function unmark() {
    form.querySelectorAll("[data-marked]").forEach(function (control) {
      var described = (control.getAttribute("aria-describedby") || "").replace(control.getAttribute("data-marked"), "").trim();
      control.classList.remove("is-invalid");
      control.removeAttribute("aria-invalid");
      control.removeAttribute("data-marked");
      if (described) { control.setAttribute("aria-describedby", described); } else { control.removeAttribute("aria-describedby"); }
    });
  }

  // A control the rule's problem is about: red, invalid, and described by the problem's text.
  function mark(control, describedBy) {
    if (!control || control.hasAttribute("data-marked")) { return; }
    control.classList.add("is-invalid");
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("data-marked", describedBy);
    control.setAttribute("aria-describedby", ((control.getAttribute("aria-describedby") || "") + " " + describedBy).trim());
  }

  // The control a server path names (`rule.all[2].op`), as the builder draws it.
  function controlAt(path) {
    if (!useBuilder) { return ruleArea; }
    var match = /^rule(?:\.(?:all|any)\[(\d+)\])?(?:\.(?:all|any)\[(\d+)\])?(?:\.(\w+))?/.exec(path || "");
    if (!match || match[1] === undefined) { return null; }
    var row = rowsOf(topRows)[Number(match[1])];
    if (row && match[2] !== undefined && row.getAttribute("data-kind") === "group") {
      row = rowsOf(row.querySelector("[data-rows]"))[Number(match[2])];
    }
    if (!row) { return null; }
    return (match[3] && row.querySelector('[data-part="' + match[3] + '"]')) || firstControl(row);
  }

  // Replaced only when the text changes: a live region says again whatever is put in it.
  function show(parts) {
    var text = parts.map(function (part) { return part.textContent; }).join(" ");
    if (out.getAttribute("data-shown") === text) { return; }
    out.setAttribute("data-shown", text);
    out.replaceChildren.apply(out, parts);
  }

  function showProblem(text) {
    show([el("p", { "class": "mb-0", id: "segment-count-problem", text: text })]);
  }

  function showCount(data) {
    var line = el("p", { "class": "mb-2" }, [el("strong", { "data-field": "segment-count", text: String(data.count) })]);
    line.appendChild(document.createTextNode(data.count === 1 ? " customer matches now." : " customers match now."));
    var parts = [line];
    if (data.sample.length) {
      parts.push(el("p", { "class": "small text-body-secondary mb-1", id: "segment-sample-title", text: "For example:" }));
      var sample = data.sample.map(function (c) {
        var name = [c.first_name, c.last_name].filter(Boolean).join(" ") || "(no name)";
        return el("li", { text: name + (c.email ? " <" + c.email + ">" : "") });
      });
      parts.push(el("ul", { "class": "small mb-0 segment-sample", "aria-labelledby": "segment-sample-title" }, sample));
    }
    show(parts);
  }

  function count() {
    var request = ++latest; // an answer to an older request is dropped
    var problems = [];
    var rule;
    unmark();
    if (!restaurant()) { showProblem("Not counted yet: choose a restaurant."); return; }
    if (useBuilder) {
      rule = ruleOf(problems);
      ruleArea.value = JSON.stringify(rule);
    } else {
      try { rule = JSON.parse(ruleArea.value); } catch (error) { problems.push({ control: ruleArea, message: "The rule is not JSON yet" }); }
    }
    if (problems.length) {
      showProblem("Not counted yet: " + problems.map(function (p) { return p.message; }).join("; ") + ".");
      return;
    }
    fetch(form.getAttribute("data-count-url"), {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": form.elements.namedItem("csrf_token").value },
      body: JSON.stringify({ restaurant: restaurant(), rule: rule })
    })
      .then(function (response) {
        if (response.status === 401 || response.type === "opaqueredirect") {
          return { signedOut: true };
        }
        return response.json();
      })
      .then(function (data) {
        if (request !== latest) { return; }
        if (data.signedOut) { showProblem("Not counted: you are signed out. Log in again in another tab, then change the rule."); }
        else if (typeof data.count === "number") { showCount(data); }
        else {
          showProblem("Not counted: " + (data.where ? data.where + ": " : "") + (data.message || "the server did not answer") + ".");
          mark(controlAt(data.path), "segment-count-problem");
        }
      })
      .catch(function () { /* keep the last count */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(count, DELAY_MS);
  }

  // -- editing ------------------------------------------------------------------------------------

  function say(text) { status.textContent = text; }

  function add(kind, list) {
    var row = kind === "group" ? groupRow() : conditionRow();
    list.appendChild(row);
    renumber();
    firstControl(row).focus();
    say(row.querySelector("legend").textContent + " added.");
    later();
  }

  function remove(row) {
    var list = row.parentNode;
    var siblings = rowsOf(list);
    var at = siblings.indexOf(row);
    var name = row.querySelector("legend").textContent;
    row.remove();
    renumber();
    var rest = rowsOf(list);
    var next = rest[at] || rest[at - 1];
    // The next row, else the previous one, else the "Add condition" button of the same list.
    var host = list === topRows ? builder : list.closest("[data-kind]");
    (next ? firstControl(next) : host.querySelector(":scope > fieldset > div > [data-add], :scope > div > [data-add]")).focus();
    say(name + " removed.");
    later();
  }

  builder.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) { return; }
    if (button.hasAttribute("data-add")) {
      var group = button.closest('[data-kind="group"]');
      add(button.getAttribute("data-add"), group ? group.querySelector("[data-rows]") : topRows);
    } else if (button.hasAttribute("data-remove")) {
      remove(button.closest("[data-kind]"));
    }
  });

  builder.addEventListener("change", function (event) {
    var part = event.target.getAttribute("data-part");
    if (part === "field" || part === "op") { redraw(event.target.closest("[data-kind]")); }
  });
  builder.addEventListener("input", later);
  builder.addEventListener("change", later);
  ruleArea.addEventListener("input", later);
  form.addEventListener("change", function (event) {
    if (event.target.name !== "restaurant") { return; }
    form.querySelectorAll('[data-part="campaign"]').forEach(function (control) {
      control.parentNode.replaceWith(campaignSelect(control.value));
    });
    later();
  });

  // Saving an incomplete rule is stopped here, its first gap focused (the server checks again).
  form.addEventListener("submit", function (event) {
    if (!useBuilder || (event.submitter && event.submitter.name !== "submit")) { return; }
    var problems = [];
    ruleArea.value = JSON.stringify(ruleOf(problems));
    if (problems.length) {
      event.preventDefault();
      unmark();
      problems.forEach(function (p) { mark(p.control, "segment-count-problem"); });
      showProblem("Not saved yet: " + problems.map(function (p) { return p.message; }).join("; ") + ".");
      problems[0].control.focus();
    }
  });

  // -- start --------------------------------------------------------------------------------------

  var saved;
  try { saved = ruleArea.value.trim() ? drawable(JSON.parse(ruleArea.value)) : { all: [{}] }; } catch (error) { saved = null; }
  if (saved) {
    useBuilder = true;
    var mode = saved.any ? "any" : "all";
    builder.querySelector('[data-mode] input[value="' + mode + '"]').checked = true;
    saved[mode].forEach(function (node) {
      topRows.appendChild(node.all || node.any ? groupRow(node) : conditionRow(node));
    });
    renumber();
    builder.hidden = false;
    document.getElementById("rule-json").hidden = true;
    var countButton = form.elements.namedItem("count");
    if (countButton) { countButton.hidden = true; }
    // After a refused save: the control the refusal is about, marked and focused.
    var refused = document.getElementById("rule-error");
    var control = refused && controlAt(refused.getAttribute("data-error-path"));
    if (control) {
      mark(control, "rule-error");
      if (refused.hasAttribute("data-focus")) { control.focus(); }
    }
  } else {
    document.getElementById("builder-note").hidden = false;
  }
  later();
})();
