// saex prompt tool: click a feature's row to highlight its activation on
// every token of the prompt (the feature pages' emerald scale, value on
// hover); click it again, or another row, to switch. Delegated from the
// document so that it works on results swapped in by htmx. No inline
// handlers: the Content-Security-Policy forbids them.
(function () {
  "use strict";
  var levels = /\ba([1-9]|1[0-9]|20)\b/g;

  function clear(strip) {
    strip.querySelectorAll(".ptok").forEach(function (t) {
      t.className = t.className.replace(levels, "").replace(/\s+/g, " ").trim();
      if (t.dataset.title !== undefined) {
        t.title = t.dataset.title;
      }
    });
    strip.classList.remove("highlighting");
    document.querySelectorAll("tr.pfeature.on").forEach(function (r) { r.classList.remove("on"); });
  }

  function highlight(row) {
    var strip = document.getElementById("ptoks");
    if (!strip) {
      return;
    }
    var was = row.classList.contains("on");
    clear(strip);
    if (was) {
      return;
    }
    var data = (row.dataset.highlight || "").split(",");
    var toks = strip.querySelectorAll(".ptok");
    toks.forEach(function (t, i) {
      var lv = (data[i] || "0:0").split(":");
      if (t.dataset.title === undefined) {
        t.dataset.title = t.title;
      }
      if (lv[0] !== "0") {
        t.classList.add("a" + lv[0]);
      }
      t.title = t.dataset.title + " · " + row.dataset.name + ": " + lv[1];
    });
    strip.classList.add("highlighting");
    row.classList.add("on");
  }

  document.addEventListener("click", function (ev) {
    var el = ev.target;
    if (!(el instanceof Element) || el.closest("a")) {
      return; // links keep their meaning
    }
    var row = el.closest("tr.pfeature");
    if (row) {
      ev.preventDefault();
      highlight(row);
    }
  });
})();
