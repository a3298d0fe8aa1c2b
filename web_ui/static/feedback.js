/* Live page, "Feedback for the runner": the clinician picks the target and the schedule, starts
   (PUT /api/feedback) and stops (DELETE) it, and follows the block, its hit rate and time left. */
"use strict";
(function () {
  const POLL_RUNNING_MS = 1000, POLL_IDLE_MS = 4000;
  const $ = function (id) { return document.getElementById(id); };
  const fmt = function (v, d) { return window.hipcam.fmt(v, d); };
  let status = null;   // GET /api/feedback's "feedback"
  let offset = 0;      // device clock - this clock (s), from the answer's Date header
  let opened = false;  // the card is opened once per plan, then left as the clinician sets it

  function checked(name) {
    const el = document.querySelector("input[name=" + name + "]:checked");
    return el ? el.value : null;
  }
  function number(id) {
    const text = $(id).value.trim().replace(",", ".");
    return text === "" ? null : Number(text);
  }

  // Only the fields that apply: the device fills the rest with its defaults.
  function targetBody(kind) {
    if (kind === "pattern_b") return { kind: kind, min_hip_extension_deg: number("fb-min-ext"), max_trunk_lean_deg: number("fb-max-lean") };
    if (kind === "cadence") return { kind: kind, cadence_spm: number("fb-cadence"), tolerance_spm: number("fb-tolerance") };
    return { kind: kind };
  }

  // "100, 50, 20, 0" (% of blocks with feedback per phase) -> [1, 0.5, 0.2, 0]; the device checks the ranges.
  function fadeShares() {
    const parts = $("fb-fade").value.split(/[\s,;]+/).filter(Boolean);
    const shares = parts.map(function (p) { return Number(p.replace("%", "")) / 100; });
    if (!parts.length || shares.some(function (v) { return !Number.isFinite(v); })) {
      throw new Error("Feedback per phase: percentages separated by commas, e.g. 100, 50, 20, 0");
    }
    return shares;
  }

  function planBody() {
    const schedule = { kind: checked("fb_schedule"), block_s: number("fb-block-s"), blocks: number("fb-blocks"), probes: $("fb-probes").checked };
    if (schedule.kind === "faded") schedule.fade = fadeShares();
    const target = targetBody(checked("fb_target"));
    return { target: target, schedule: schedule, audio: checked("fb_audio"),
      metronome: target.kind === "cadence" && $("fb-metronome").checked, show_values: $("fb-show-values").checked };
  }

  function showError(msg) { $("fb-error").textContent = msg || ""; $("fb-error").hidden = !msg; }

  // Show the target's and the schedule's own fields only.
  function syncForm() {
    const on = [checked("fb_target"), checked("fb_schedule")];
    document.querySelectorAll("#fb-form .fb-when").forEach(function (el) { el.hidden = on.indexOf(el.dataset.when) < 0; });
  }

  function timeLeft(block) {
    // The Date header's whole seconds can put the estimate past the block's own length: not shown.
    const left = Math.max(0, Math.min(Math.ceil(block.ends_at - (Date.now() / 1000 + offset)), Math.round(block.ends_at - block.started_at)));
    return Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
  }

  function blockText(s) {
    const b = s.block;
    const kind = b.probe ? "retention (" + b.probe + "), feedback off" : (b.feedback ? "feedback on" : "feedback off");
    const rate = b.hit_rate === null || b.hit_rate === undefined ? "–" : fmt(100 * b.hit_rate, 0) + " %";
    return "Block " + (b.index + 1) + " of " + b.count + " · " + kind + " · hit rate " + rate +
      " (" + (b.hits || 0) + "/" + (b.strides || 0) + ") · " + timeLeft(b) + " left · streak " + (s.streak || 0);
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function lastRunText(s) {
    const done = s.blocks_done || [];
    const strides = done.reduce(function (n, b) { return n + (b.strides || 0); }, 0);
    return "Last feedback (session " + s.session_id + "): " + s.target.label + " · " + plural(done.length, "block") + ", " +
      plural(strides, "stride") + " judged. The results are on the session page.";
  }

  function render() {
    const running = !!status && status.active;
    $("fb-running").hidden = !running;
    $("fb-form").hidden = running;
    $("fb-summary").textContent = running ? "running · block " + (status.block.index + 1) + " of " + status.block.count : "off";
    $("fb-card").classList.toggle("running", running);
    if (running && !opened) { $("fb-card").open = true; opened = true; }
    if (!running) opened = false;
    if (running) {
      $("fb-target").textContent = status.target.label;
      $("fb-status").textContent = blockText(status);
    }
    $("fb-last").textContent = status && status.finished ? lastRunText(status) : "";
  }

  async function poll() {
    if (document.visibilityState === "visible") {
      try {
        const resp = await fetch("/api/feedback", { credentials: "same-origin", cache: "no-store" });
        if (resp.ok) {
          const data = await resp.json();
          const date = Date.parse(resp.headers.get("Date") || "");
          if (typeof data.server_time === "number") offset = data.server_time - Date.now() / 1000;
          else if (Number.isFinite(date)) offset = date / 1000 + 0.5 - Date.now() / 1000;  // the header's second, midway
          status = data.feedback || null;
          render();
        }
      } catch (e) { /* the next poll retries; live.js shows a lost connection */ }
    }
    setTimeout(poll, status && status.active ? POLL_RUNNING_MS : POLL_IDLE_MS);
  }

  async function act(method, body) {
    showError("");
    try {
      const data = await window.hipcam.api(method, "/api/feedback", body);
      status = data ? data.feedback || null : null;
      render();
    } catch (e) {
      if (e.status === 401) { window.hipcam.toLogin(); return; }
      showError(e.message);
    }
  }

  function start(ev) {
    ev.preventDefault();
    let body;
    try { body = planBody(); } catch (e) { showError(e.message); return; }
    act("PUT", body);
  }

  // Start needs a running session: follow the live page's session card (live.js shows or hides it).
  function watchSession() {
    const idle = $("session-idle");
    const sync = function () {
      const none = !idle.hidden;
      $("fb-start").disabled = none;
      $("fb-hint").textContent = none ? "Start a session first: feedback runs within a session." : "";
    };
    new MutationObserver(sync).observe(idle, { attributes: true, attributeFilter: ["hidden"] });
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!$("fb-card")) return;
    $("fb-form").addEventListener("submit", start);
    $("fb-form").addEventListener("change", syncForm);
    $("fb-stop").addEventListener("click", function () { act("DELETE"); });
    syncForm();
    watchSession();
    poll();
    setInterval(function () { if (status && status.active) $("fb-status").textContent = blockText(status); }, 500);
  });
})();
