/* Settings page: save (PIN + CSRF), reset, and the live read-out of the roll applied. */
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

  let loaded = null;  // settings as applied: only changed keys are sent, so the rest stays with the config file

  function fill(s) {
    loaded = s;
    $("level-" + s.level.mode).checked = true;
    $("roll-deg").value = s.level.roll_deg;
    $("direction-" + s.gait.direction).checked = true;
    $("open-viewing").checked = s.server.open_viewing;
  }

  function changes() {
    const roll = $("roll-deg").value.trim().replace(",", ".");
    const want = {
      level: { mode: checked("level_mode"), roll_deg: roll === "" ? null : Number(roll) },
      gait: { direction: checked("direction") },
      server: { open_viewing: $("open-viewing").checked }
    };
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
      refreshApplied();
    } catch (e) {
      if (e.status === 401) { window.location.assign("/login?next=/settings"); return; }
      show("", e.message);
    }
  }

  async function refreshApplied() {
    try {
      const s = await window.hipcam.api("GET", "/api/state");
      $("level-applied").textContent = s.level ? s.level.text : "not measured yet (no frame analysed)";
    } catch (e) { /* keep the last read-out */ }
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
  setInterval(function () { if (document.visibilityState === "visible") refreshApplied(); }, 1500);
});
