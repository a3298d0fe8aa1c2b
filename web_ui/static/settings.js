/* Settings page: save (PIN + CSRF), reset, the live read-out of the roll applied, and a setting locked by the config. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("settings-form");
  if (!form) return;
  const $ = function (id) { return document.getElementById(id); };
  const checked = function (name) { const el = form.querySelector("input[name=" + name + "]:checked"); return el ? el.value : null; };

  function show(status, error) {
    $("settings-status").textContent = status || "";
    $("settings-error").textContent = error || "";
    $("settings-error").hidden = !error;
  }

  // The gym's count of walk-up checks per day (the only thing kept of them beyond keep_hours).
  fetch("/api/walkup", { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
    const days = body ? Object.entries(body.checks_by_day || {}) : [];
    $("walkup-counts").textContent = "Checks per day: " +
      (days.length ? days.slice(-14).map(function (d) { return d[0] + " " + d[1]; }).join(" · ") : "none yet");
  }).catch(function () { /* the count is information only */ });

  let loaded = null;  // settings as applied: only changed keys are sent, so the rest stays with the config file

  function fill(s) {
    loaded = s;
    $("level-" + s.level.mode).checked = true;
    $("roll-deg").value = s.level.roll_deg;
    $("direction-" + s.gait.direction).checked = true;
    $("open-viewing").checked = s.server.open_viewing;
    $("walkup-enabled").checked = s.walkup.enabled;
    form.querySelectorAll("input[data-walkup]").forEach(function (el) { el.value = s.walkup[el.dataset.walkup]; });
    // Viewing closed in the config file or environment: a floor the page cannot lift (the API says 409).
    const lock = (s.locked && s.locked.server && s.locked.server.open_viewing) || "";
    $("open-viewing").disabled = Boolean(lock);
    $("open-viewing-why").textContent = lock;
    $("open-viewing-lock").hidden = !lock;
  }

  function changes() {
    const roll = $("roll-deg").value.trim().replace(",", ".");
    const want = {
      level: { mode: checked("level_mode"), roll_deg: roll === "" ? null : Number(roll) },
      gait: { direction: checked("direction") },
      server: { open_viewing: $("open-viewing").checked },
      walkup: { enabled: $("walkup-enabled").checked }
    };
    form.querySelectorAll("input[data-walkup]").forEach(function (el) {
      const v = el.value.trim().replace(",", ".");
      want.walkup[el.dataset.walkup] = v === "" ? null : Number(v);  // out of range: the API says which (400)
    });
    const out = {};
    Object.keys(want).forEach(function (section) {
      Object.keys(want[section]).forEach(function (key) {
        if (!loaded || loaded[section][key] !== want[section][key]) (out[section] = out[section] || {})[key] = want[section][key];
      });
    });
    return out;
  }

  async function send(method, payload, done) {
    show("Saving…", "");
    try {
      fill(await window.hipcam.api(method, "/api/settings", payload));
      show(done, "");
      watchApplied(APPLIED_REFRESHES, false);
    } catch (e) {
      if (e.status === 401) { window.hipcam.toLogin(); return; }
      show("", e.message);
    }
  }

  // The roll applied changes only when the gait tracker restarts (a saved level or direction is
  // applied on the next frame), so the read-out is refreshed a few times after a save or reset,
  // and, while nothing has been measured yet, until the first measurement arrives.
  const APPLIED_REFRESH_MS = 1500;
  const APPLIED_REFRESHES = 8;  // about 10 s
  let measured = form.dataset.levelMeasured === "1";
  let appliedRun = 0;  // a newer watch replaces an older one

  async function refreshApplied() {
    try {
      const s = await window.hipcam.api("GET", "/api/state");
      measured = Boolean(s.level);
      $("level-applied").textContent = s.level ? s.level.text : "not measured yet (no frame analysed)";
    } catch (e) { /* keep the last read-out */ }
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  async function watchApplied(times, waitFirst) {
    const run = ++appliedRun;
    for (let done = 0; done < times || !measured; done++) {
      if (waitFirst || done > 0) {
        await sleep(APPLIED_REFRESH_MS);
        if (run !== appliedRun) return;
      }
      if (document.visibilityState === "visible") await refreshApplied();
      if (run !== appliedRun) return;
    }
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const patch = changes();
    if (Object.keys(patch).length) send("POST", patch, "Saved – applied to the live analysis");
    else show("No changes", "");
  });
  $("settings-reset").addEventListener("click", function () {
    if (window.confirm("Forget the settings made here and use the config file?")) send("DELETE", undefined, "Reset to the config file");
  });
  window.hipcam.api("GET", "/api/settings").then(fill).catch(function () { /* sent in full then */ });
  if (!measured) watchApplied(0, true);
});
