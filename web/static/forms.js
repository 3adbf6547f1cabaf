// Progressive enhancement of the rater's and reviewer's forms. Everything here is also done by the
// server without JavaScript (counts after a save, the warning step, drafts); this only makes it live:
// counters and per-domain progress as answers are chosen, the error summary focused, drafts saved
// while typing, a warning before leaving with unsaved answers, and "Save draft" returning to the
// answer being worked on. Served as a file from 'self' (the CSP allows no inline script).
(function () {
  "use strict";

  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }

  function answered(fieldset) {
    return fieldset.querySelector("input[type=radio]:checked") !== null;
  }

  function updateCounts(form) {
    var counter = form.querySelector("[data-na-counter]");
    if (counter) {
      var limit = parseInt(counter.getAttribute("data-limit"), 10);
      var count = form.querySelectorAll("input[type=radio][value=na]:checked").length;
      counter.querySelector("[data-na-count]").textContent = String(count);
      var over = count > limit;
      counter.classList.toggle("over", over);
      var note = counter.querySelector("[data-na-over]");
      if (note) { note.hidden = !over; }
    }
    form.querySelectorAll("[data-domain]").forEach(function (section) {
      var items = section.querySelectorAll("fieldset.item");
      var done = 0;
      items.forEach(function (item) { if (answered(item)) { done += 1; } });
      var out = section.querySelector("[data-domain-progress]");
      if (out) { out.textContent = done + " of " + items.length + " answered"; }
    });
  }

  document.querySelectorAll("form[data-warn-unsaved]").forEach(function (form) {
    var dirty = false;
    var submitting = false;
    var timer = null;
    var state = form.querySelector("[data-save-state]");
    var at = form.querySelector("input[name=at]");

    function autosave() {
      if (!form.hasAttribute("data-autosave") || !dirty) { return; }
      var data = new FormData(form);
      data.set("action", "save");
      data.set("autosave", "1");
      var sent = dirty;
      dirty = false;
      // getAttribute: form.action would be the buttons named "action".
      fetch(form.getAttribute("action").split("#")[0], { method: "POST", body: data, credentials: "same-origin" })
        .then(function (response) {
          if (response.ok) {
            if (state) { state.textContent = "Draft saved at " + new Date().toTimeString().slice(0, 5); }
          } else {
            dirty = sent;
            if (state) { state.textContent = "Not saved: use “Save draft”."; }
          }
        })
        .catch(function () {
          dirty = sent;
          if (state) { state.textContent = "Not saved (no connection): your answers are still on this page."; }
        });
    }

    function changed(event) {
      dirty = true;
      var item = event.target.closest("fieldset[id], [id].field");
      if (item && at) { at.value = item.id; }
      updateCounts(form);
      if (state) { state.textContent = "Unsaved changes"; }
      clearTimeout(timer);
      timer = setTimeout(autosave, 1500);
    }

    form.addEventListener("change", changed);
    form.addEventListener("input", function (event) {
      if (event.target.tagName === "TEXTAREA" || event.target.type === "text" || event.target.type === "number") {
        changed(event);
      }
    });
    form.addEventListener("focusin", function (event) {
      var item = event.target.closest("fieldset[id]");
      if (item && at) { at.value = item.id; }
    });
    form.addEventListener("submit", function () { submitting = true; clearTimeout(timer); });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !submitting) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    updateCounts(form);
  });
})();
