(function () {
  "use strict";
  var doc = document;
  var root = doc.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");
  var toArray = function (list) { return Array.prototype.slice.call(list); };
  var boxes = toArray(doc.querySelectorAll("input[data-filter-status]"));
  var search = doc.getElementById("q");
  var shown = doc.getElementById("shown");
  var noMatch = doc.getElementById("no-match");
  var results = toArray(doc.querySelectorAll("article.result"));
  var sections = toArray(doc.querySelectorAll("section.results-section"));
  var texts = results.map(function (a) { return a.textContent.toLowerCase(); });

  function state() {
    var statuses = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    return { statuses: statuses, query: search ? search.value.trim() : "" };
  }

  function apply(updateUrl) {
    var s = state();
    var terms = s.query.toLowerCase().split(/\s+/).filter(Boolean);
    var visible = 0;
    results.forEach(function (a, i) {
      var ok = s.statuses.indexOf(a.getAttribute("data-status")) >= 0 &&
        terms.every(function (t) { return texts[i].indexOf(t) >= 0; });
      a.hidden = !ok;
      if (ok) { visible += 1; }
    });
    sections.forEach(function (sec) {
      sec.hidden = !sec.querySelector("article.result:not([hidden])");
    });
    if (noMatch) { noMatch.hidden = visible > 0 || results.length === 0; }
    if (shown) {
      shown.textContent = visible === results.length ?
        "All " + results.length + " checks shown" : visible + " of " + results.length + " checks shown";
    }
    root.setAttribute("data-shown", String(visible));
    if (updateUrl && window.history && window.history.replaceState) {
      var all = s.statuses.length === boxes.length;
      var parts = [];
      if (!all) { parts.push("status=" + encodeURIComponent(s.statuses.join(","))); }
      if (s.query) { parts.push("q=" + encodeURIComponent(s.query)); }
      try {
        window.history.replaceState(null, "", parts.length ? "#" + parts.join("&") : window.location.pathname);
      } catch (e) { /* file:// pages may refuse; filtering still works */ }
    }
  }

  function fromHash() {
    var hash = window.location.hash.slice(1);
    if (hash.indexOf("=") < 0) { return; }
    var params = new URLSearchParams(hash);
    if (params.has("status")) {
      var wanted = params.get("status").toUpperCase().split(",");
      boxes.forEach(function (b) { b.checked = wanted.indexOf(b.value) >= 0; });
    }
    if (params.has("q") && search) { search.value = params.get("q"); }
  }

  boxes.forEach(function (b) { b.addEventListener("change", function () { apply(true); }); });
  if (search) {
    search.addEventListener("input", function () { apply(true); });
    doc.addEventListener("keydown", function (e) {
      if (e.key === "/" && doc.activeElement !== search) { e.preventDefault(); search.focus(); }
      if (e.key === "Escape" && doc.activeElement === search) { search.value = ""; apply(true); }
    });
  }
  window.addEventListener("hashchange", function () { fromHash(); apply(false); });

  var opened = [];
  window.addEventListener("beforeprint", function () {
    toArray(doc.querySelectorAll("details:not([open])")).forEach(function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });

  fromHash();
  apply(false);
})();
