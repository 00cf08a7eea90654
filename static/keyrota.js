// keyrota: progressive enhancement only; every page works without it.
(function () {
  "use strict";

  // Times arrive in UTC (<time datetime="...Z">); show them in the
  // viewer's own zone, keeping the UTC text as the tooltip.
  function localTimes(root) {
    var times = root.querySelectorAll("time[datetime]");
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit",
        minute: "2-digit", second: "2-digit", timeZoneName: "short"
      });
    } catch (e) { return; }
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      var when = new Date(t.getAttribute("datetime"));
      if (isNaN(when.getTime()) || t.getAttribute("data-local") === "1") { continue; }
      t.title = t.textContent;
      t.textContent = fmt.format(when);
      t.setAttribute("data-local", "1");
    }
  }
  localTimes(document);

  // Speaks through the page's one live region, which lives outside <main>
  // and so survives the swap below.
  function announce(text) {
    var region = document.getElementById("announcer");
    if (region) { region.textContent = text; }
  }

  // After a 422 the error summary takes focus, so it is read first and
  // its links lead to the fields.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    // A summary link puts focus in its field (not only the scroll).
    summary.addEventListener("click", function (e) {
      var href = e.target.getAttribute && e.target.getAttribute("href");
      var field = href && href.charAt(0) === "#" && document.getElementById(href.slice(1));
      if (field) { e.preventDefault(); field.focus(); }
    });
  }

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
  var interval = parseInt(trace.getAttribute("data-retry-after"), 10);
  if (!(interval >= 1 && interval <= 60)) { interval = 4; }
  // Once, a moment after load, so the region is known before it speaks.
  window.setTimeout(function () { announce("Checking policy P-7..."); }, 300);

  function swapIn() {
    fetch(url, { headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var main = doc.getElementById("main");
        if (main) {
          var here = document.getElementById("main");
          here.innerHTML = main.innerHTML;
          document.title = doc.title;
          localTimes(here);
          var title = document.getElementById("trace-title");
          if (title) {
            announce(title.textContent);
            title.setAttribute("tabindex", "-1");
            title.focus();
          }
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.location.reload(); });
  }

  // The first looks come soon; later ones slow down to the server's
  // interval.
  var tries = 0;
  function next() {
    tries += 1;
    return Math.min(500 + tries * 500, interval * 1000);
  }
  function poll(delay) {
    window.setTimeout(function () {
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (t) {
          if (t.status && t.status !== "running") { swapIn(); }
          else { poll(next()); }
        })
        .catch(function () { poll(interval * 1000); });
    }, delay);
  }
  poll(1000);
})();
