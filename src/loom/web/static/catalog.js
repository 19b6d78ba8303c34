// Loom catalog forms: mirror the server's conditions while people type, and hint at
// problems the browser can see before the form is sent.
//
// The server's evaluator (loom.catalog.conditions, with the visibility rules of
// loom.catalog.form_input) is the one that counts; this file only mirrors it: fields
// whose `visibleIf` does not hold are hidden (with their nested fields), `requiredIf`
// toggles `required`. Conditions come as JSON in data attributes:
//   {field, equals | notEquals | in | notIn | isSet} | {all: [...]} | {any: [...]} | {not: {...}}
// The form has `novalidate`: nothing here stops a post, so the server always answers.
(function () {
  "use strict";

  function isSet(value) {
    return value !== null && value !== undefined && value !== "" &&
      !(Array.isArray(value) && value.length === 0);
  }

  function equal(a, b) {
    if (a === b) return true;
    if (a === undefined) a = null;
    if (b === undefined) b = null;
    if (a === null || b === null) return a === b;
    if (Array.isArray(a) || Array.isArray(b)) {
      if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
      return a.every(function (item, i) { return equal(item, b[i]); });
    }
    if (typeof a === "object" && typeof b === "object") {
      var keys = Object.keys(a);
      if (keys.length !== Object.keys(b).length) return false;
      return keys.every(function (k) { return equal(a[k], b[k]); });
    }
    return false;
  }

  function getPath(values, path) {
    var node = values;
    var parts = path.split(".");
    for (var i = 0; i < parts.length; i++) {
      if (node === null || typeof node !== "object" || Array.isArray(node) ||
          !Object.prototype.hasOwnProperty.call(node, parts[i])) {
        return null;
      }
      node = node[parts[i]];
    }
    return node;
  }

  function member(value, choices) {
    choices = choices || [];
    var inChoices = function (v) { return choices.some(function (c) { return equal(v, c); }); };
    if (Array.isArray(value)) return value.some(inChoices); // multi-enum: any chosen option
    return inChoices(value);
  }

  // A comparison is the one key given a value (a served document may spell out the
  // others as null).
  function has(cond, key) {
    return Object.prototype.hasOwnProperty.call(cond, key) && cond[key] !== null;
  }

  function evaluate(cond, values) {
    if (cond.all != null) return cond.all.every(function (c) { return evaluate(c, values); });
    if (cond.any != null) return cond.any.some(function (c) { return evaluate(c, values); });
    if (cond.not != null) return !evaluate(cond.not, values);
    var value = getPath(values, cond.field || "");
    if (has(cond, "equals")) return equal(value, cond.equals);
    if (has(cond, "notEquals")) return !equal(value, cond.notEquals);
    if (cond.in != null) return member(value, cond.in);
    if (cond.notIn != null) return !member(value, cond.notIn);
    if (cond.isSet != null) return isSet(value) === cond.isSet;
    return true;
  }

  function json(el, name) {
    var text = el.getAttribute(name);
    if (text === null) return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      return undefined;
    }
  }

  function parentPath(path) {
    var dot = path.lastIndexOf(".");
    return dot < 0 ? "" : path.slice(0, dot);
  }

  // The typed value of one field as the server would read it (empty: its default).
  function readField(wrapper) {
    var type = wrapper.dataset.type;
    var options = json(wrapper, "data-options") || [];
    var typed = function (text) {
      for (var i = 0; i < options.length; i++) {
        if (options[i][0] === text) return options[i][1];
      }
      return text;
    };
    var value;
    if (type === "boolean") {
      return wrapper.querySelector("input[type=checkbox]").checked;
    } else if (type === "multi-enum") {
      value = Array.prototype.map.call(
        wrapper.querySelectorAll("input[type=checkbox]:checked"),
        function (box) { return typed(box.value); }
      );
    } else {
      var control = wrapper.querySelector("input, select, textarea");
      value = control ? control.value : "";
      if (type === "enum" && value !== "") {
        value = typed(value);
      } else if ((type === "integer" || type === "number") && value.trim() !== "") {
        var number = Number(value.trim());
        if (Number.isFinite(number)) value = number;
      }
    }
    if (!isSet(value)) {
      var fallback = json(wrapper, "data-default");
      return fallback === undefined ? undefined : fallback;
    }
    return value;
  }

  function nest(flat) {
    var nested = {};
    Object.keys(flat).forEach(function (path) {
      var parts = path.split(".");
      var node = nested;
      for (var i = 0; i < parts.length - 1; i++) {
        if (typeof node[parts[i]] !== "object" || node[parts[i]] === null) node[parts[i]] = {};
        node = node[parts[i]];
      }
      node[parts[parts.length - 1]] = flat[path];
    });
    return nested;
  }

  function sameSet(a, b) {
    if (a.size !== b.size) return false;
    var same = true;
    a.forEach(function (x) { if (!b.has(x)) same = false; });
    return same;
  }

  // Hidden fields' values do not count in conditions: repeat until the set settles
  // (as the server does).
  function applyConditions(form) {
    var wrappers = Array.prototype.slice.call(form.querySelectorAll("[data-field]"));
    var flat = {};
    wrappers.forEach(function (w) {
      if (w.dataset.type === "group") return;
      var value = readField(w);
      if (value !== undefined) flat[w.dataset.path] = value;
    });
    var restricted = function (visible) {
      var kept = {};
      Object.keys(flat).forEach(function (p) { if (visible.has(p)) kept[p] = flat[p]; });
      return nest(kept);
    };
    var visible = new Set(wrappers.map(function (w) { return w.dataset.path; }));
    for (var round = 0; round <= wrappers.length; round++) {
      var values = restricted(visible);
      var next = new Set();
      wrappers.forEach(function (w) {
        var path = w.dataset.path;
        var parent = parentPath(path);
        if (parent && !next.has(parent)) return;
        var cond = json(w, "data-visible-if");
        if (!cond || evaluate(cond, values)) next.add(path);
      });
      if (sameSet(next, visible)) break;
      visible = next;
    }
    var settled = restricted(visible);
    wrappers.forEach(function (w) {
      w.hidden = !visible.has(w.dataset.path);
      if (w.dataset.type === "group") return;
      var requiredIf = json(w, "data-required-if");
      var required = w.dataset.required === "true" ||
        (requiredIf !== undefined && evaluate(requiredIf, settled));
      var mark = w.querySelector(".required-mark");
      if (mark) mark.hidden = !required;
      var control = w.querySelector("input:not([type=checkbox]), select, textarea");
      if (control) control.required = required;
    });
  }

  // Patterns are Python regular expressions; the browser's dialect (the `v` flag) differs,
  // and a pattern it cannot compile is an error in the console. Use it only when it
  // compiles; else check it ourselves, as well as the `u` flag can.
  function setUpPatterns(form) {
    form.querySelectorAll("[data-pattern]").forEach(function (control) {
      var pattern = control.dataset.pattern;
      try {
        new RegExp("^(?:" + pattern + ")$", "v");
        control.setAttribute("pattern", pattern);
      } catch (e) {
        try {
          control._loomPattern = new RegExp("^(?:" + pattern + ")$", "u");
        } catch (e2) {
          control._loomPattern = null;
        }
      }
    });
  }

  function describedBy(control, id, present) {
    var ids = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    ids = ids.filter(function (x) { return x !== id; });
    if (present) ids.unshift(id);
    if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
    else control.removeAttribute("aria-describedby");
  }

  // After a change, say next to the field what the browser already sees is wrong.
  function hint(control) {
    if (!control.id || control.type === "checkbox" || control.type === "hidden") return;
    if (control._loomPattern) {
      var mismatch = control.value !== "" && !control._loomPattern.test(control.value);
      control.setCustomValidity(mismatch ? "Must match the pattern " + control.dataset.pattern : "");
    }
    var wrapper = control.closest("[data-field]");
    if (!wrapper || wrapper.hidden) return;
    var id = control.id + "-error";
    var message = document.getElementById(id);
    if (control.checkValidity()) {
      if (control.getAttribute("aria-invalid") === "true") {
        control.setAttribute("aria-invalid", "false");
        if (message) message.remove();
        describedBy(control, id, false);
      }
      return;
    }
    if (!message) {
      message = document.createElement("small");
      message.id = id;
      message.className = "field-error";
      control.insertAdjacentElement("afterend", message);
    }
    message.textContent = control.validationMessage;
    control.setAttribute("aria-invalid", "true");
    describedBy(control, id, true);
  }

  // A preview that passed: the messages of an earlier refusal no longer hold.
  function clearMessages(form) {
    form.querySelectorAll(".field-error").forEach(function (message) { message.remove(); });
    form.querySelectorAll("[aria-invalid=true]").forEach(function (control) {
      control.setAttribute("aria-invalid", "false");
      describedBy(control, control.id + "-error", false);
    });
    var summary = document.getElementById("form-errors");
    if (summary) summary.remove();
  }

  function setUp(form) {
    if (form.dataset.loomReady) return;
    form.dataset.loomReady = "true";
    form.addEventListener("submit", function (event) {
      // Pico shows a busy button; the server ignores a second post of the same form.
      if (event.submitter && event.submitter.id === "submit-button") {
        event.submitter.setAttribute("aria-busy", "true");
      }
    });
    setUpPatterns(form);
    applyConditions(form);
    form.addEventListener("input", function () { applyConditions(form); });
    form.addEventListener("change", function (event) {
      applyConditions(form);
      if (event.target instanceof HTMLElement) hint(event.target);
    });
  }

  function start() {
    document.querySelectorAll("form.catalog-form").forEach(setUp);
  }

  // Content htmx swapped in: a form sent back with the server's messages is set up like
  // the first one; a plan that passed clears those messages.
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!(elt instanceof Element)) return;
    if (elt.matches("form.catalog-form")) setUp(elt);
    elt.querySelectorAll("form.catalog-form").forEach(setUp);
    if (elt.id === "plan-panel" && elt.hasAttribute("data-ok")) {
      var form = document.getElementById("catalog-form");
      if (form) clearMessages(form);
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
