// keyrota: progressive enhancement only; every page works without it.
(function () {
  "use strict";

  // The form: one submission at a time, said out loud.
  var form = document.getElementById("report-form");
  if (form) {
    form.addEventListener("submit", function () {
      var button = document.getElementById("submit");
      if (button) { button.disabled = true; }
      var status = document.getElementById("form-status");
      if (status) { status.textContent = "Submitting the report..."; }
    });
  }

  // A running trace: poll its JSON and swap in the final page when done.
  var trace = document.getElementById("trace");
  if (!trace || trace.getAttribute("data-status") !== "running") { return; }
  var id = trace.getAttribute("data-trace-id");
  var url = "/rotation/traces/" + encodeURIComponent(id);
  var tries = 0;

  function swapIn() {
    fetch(url, { headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var main = doc.getElementById("main");
        if (main) {
          document.getElementById("main").innerHTML = main.innerHTML;
          document.title = doc.title;
          var title = document.getElementById("trace-title");
          if (title) { title.setAttribute("tabindex", "-1"); title.focus(); }
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.location.reload(); });
  }

  function poll() {
    tries += 1;
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (t) {
        if (t.status && t.status !== "running") { swapIn(); }
        else { window.setTimeout(poll, Math.min(1000 + tries * 100, 3000)); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 700);
})();
