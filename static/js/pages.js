// Small behaviours of the staff pages, wired through data-* attributes: the Content-Security-Policy
// allows no inline scripts or event-handler attributes. Loaded (deferred) by templates/base.html.
(function () {
  "use strict";
  function each(selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); }

  // On paper a closed <details> prints its summary only (an audit: the report's moments printed without frames):
  // those marked data-print-open open for printing, and close again after.
  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    each("details[data-print-open]:not([open])", function (d) { d.open = true; openedForPrint.push(d); });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (d) { d.open = false; });
    openedForPrint = [];
  });

  // Read-only link fields select their text on focus; a [data-copy-from] button copies that field.
  each("[data-select-on-focus]", function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
  each("[data-copy-from]", function (button) {
    button.addEventListener("click", function () {
      var field = document.querySelector(button.getAttribute("data-copy-from"));
      if (!field) { return; }
      field.select();
      if (navigator.clipboard) { navigator.clipboard.writeText(field.value); }
      button.textContent = "Copied";
    });
  });

  // A select that submits its form when changed (the review queue's exam filter).
  each("select[data-autosubmit]", function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // The review queue: a checkbox that ticks (or clears) every incident of its session.
  each("[data-check-group]", function (all) {
    var rows = document.querySelector(all.getAttribute("data-check-group"));
    if (!rows) { return; }
    all.addEventListener("change", function () {
      Array.prototype.forEach.call(rows.querySelectorAll("input[name=ids]"), function (box) { box.checked = all.checked; });
    });
  });

  // The session report's timeline: a bar links to #moment-<id>; open that moment's frames and focus it.
  function openMoment() {
    var target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (!target || !target.classList.contains("moment")) { return; }
    target.open = true;
    var summary = target.querySelector("summary");
    if (summary) { summary.focus(); }
  }
  window.addEventListener("hashchange", openMoment);
  openMoment();

  // Print buttons of the reports.
  // A strip of frames around an incident opens on its evidence frame (it was cut off at the strip's end).
  each(".filmstrip", function (strip) {
    var current = strip.querySelector(".current");
    if (!current) { return; }
    var offset = current.getBoundingClientRect().left - strip.getBoundingClientRect().left;
    strip.scrollLeft += offset - (strip.clientWidth - current.clientWidth) / 2;
  });

  each("[data-print]", function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // Proportional bars (the exam report): the width comes from data-width (0-100), set through the
  // DOM, which the policy allows (a style attribute in the markup it would not).
  each("[data-width]", function (bar) {
    var width = Math.max(0, Math.min(100, parseFloat(bar.getAttribute("data-width")) || 0));
    bar.style.width = width + "%";
  });

  // Question forms: options matter only for multiple choice; hide them for short-text questions.
  each(".question-form", function (form) {
    var options = form.querySelector(".choice-only");
    if (!options) { return; }
    function update() {
      var kind = form.querySelector('input[name="kind"]:checked');
      options.hidden = kind !== null && kind.value !== "choice";
    }
    Array.prototype.forEach.call(form.querySelectorAll('input[name="kind"]'), function (radio) {
      radio.addEventListener("change", update);
    });
    update();
  });

  // Enrolment picker: filter the list by text, and "select all shown".
  each("[data-filter]", function (input) {
    var list = document.querySelector(input.getAttribute("data-filter"));
    if (!list) { return; }
    var items = Array.prototype.slice.call(list.querySelectorAll("li"));
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      items.forEach(function (li) { li.hidden = q !== "" && li.textContent.toLowerCase().indexOf(q) < 0; });
    });
  });
  each("[data-check-all]", function (all) {
    var list = document.querySelector(all.getAttribute("data-check-all"));
    if (!list) { return; }
    all.addEventListener("change", function () {
      Array.prototype.forEach.call(list.querySelectorAll("li"), function (li) {
        if (!li.hidden) { li.querySelector("input").checked = all.checked; }
      });
    });
  });
})();
