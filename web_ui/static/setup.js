/* Set-up check page: start the live check (PIN + CSRF), poll its status, show the picture and the table. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const $ = function (id) { return document.getElementById(id); };
  const button = $("setup-run");
  if (!button) return;
  const POLL_MS = 1000;
  let timer = null;

  function say(status, error) {
    $("setup-status").textContent = status || "";
    $("setup-error").textContent = error || "";
    $("setup-error").hidden = !error;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  function showReport(s) {
    const rows = $("setup-rows");
    rows.replaceChildren();
    s.report.checks.forEach(function (c) {
      const tr = document.createElement("tr");
      tr.dataset.check = c.name;
      tr.dataset.status = c.status;
      cell(tr, c.name);
      cell(tr, c.status, "status-" + c.status);
      cell(tr, c.value);
      cell(tr, c.fix);
      rows.appendChild(tr);
    });
    $("setup-table").hidden = false;
    $("setup-overall-status").textContent = s.report.status;
    $("setup-overall-status").className = "status-" + s.report.status;
    $("setup-overall").hidden = false;
    if (s.has_image) {
      $("setup-image").src = "/api/setup-check/image.jpg?t=" + Date.now();
      $("setup-figure").hidden = false;
    }
  }

  function show(s) {
    if (s.state === "running") {
      say("Watching the runner… " + Math.round(s.elapsed_s) + " of " + Math.round(s.seconds) + " s", "");
    } else if (s.state === "computing") {
      say("Measuring…", "");
    } else if (s.state === "done") {
      button.disabled = false;
      if (s.report) { say("Done.", ""); showReport(s); } else { say("", s.error || "the check found no frames"); }
      return false;
    } else {
      button.disabled = false;
      say("", "");
      return false;
    }
    button.disabled = true;
    return true;
  }

  async function poll() {
    timer = null;
    try {
      if (show(await window.hipcam.api("GET", "/api/setup-check"))) timer = setTimeout(poll, POLL_MS);
    } catch (e) {
      button.disabled = false;
      if (e.status === 401) { window.hipcam.toLogin(); return; }
      say("", e.message);
    }
  }

  button.addEventListener("click", async function () {
    button.disabled = true;
    try {
      show(await window.hipcam.api("POST", "/api/setup-check"));
      if (!timer) timer = setTimeout(poll, POLL_MS);
    } catch (e) {
      button.disabled = false;
      if (e.status === 401) { window.hipcam.toLogin(); return; }
      say("", e.message);
    }
  });
  poll();  // a check already running or done (another tablet, a reload) shows at once
});
