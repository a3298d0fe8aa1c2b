/* Live page: SSE state updates, camera view with skeleton, thigh/trunk plot, session start/stop,
   hip calibration on the paused camera frame (calibrate.js). */
"use strict";
(function () {
  const V = window.hipcam.vocab;  // classes, legs, landmarks and the skeleton, from hipcam.domain
  const J = V.leg_joints;
  const PLOT_WINDOW_S = 10;
  const $ = function (id) { return document.getElementById(id); };
  const fmt = function (v, d) { return window.hipcam.fmt(v, d); };
  let samples = [];          // [t, thigh, trunk]
  let state = null;
  let auth = { logged_in: false, pin_set: false };
  let connected = false;
  let sessionLabelFor = null;
  let source = null;

  function mergeSamples(incoming, full) {
    if (full) { samples = incoming.slice(); return; }
    const lastT = samples.length ? samples[samples.length - 1][0] : -Infinity;
    if (incoming.length && incoming[incoming.length - 1][0] < lastT - 2) samples = [];  // clip looped / clock reset
    const last = samples.length ? samples[samples.length - 1][0] : -Infinity;
    incoming.forEach(function (s) { if (s[0] > last) samples.push(s); });
    const cutoff = samples.length ? samples[samples.length - 1][0] - PLOT_WINDOW_S * 3 : 0;
    while (samples.length && samples[0][0] < cutoff) samples.shift();
  }

  function banner() {
    const b = $("banner");
    let text = "", kind = "info";
    if (!connected) { text = "Connection to the device lost – reconnecting…"; kind = "bad"; }
    else if (state) {
      const st = (state.flags && state.flags.store) || {};
      if (st.disk_full) { text = "Disk full: strides are not being saved — " + (st.pending || 0) + " waiting" + (st.lost ? ", " + st.lost + " lost" : "") + " (free some space; they are written when there is room)"; kind = "bad"; }
      else if (state.status === "camera_lost") { text = "Camera lost – " + (state.message || "retrying"); kind = "bad"; }
      else if (state.status === "model_missing") { text = "Model not loaded – " + (state.message || "run hipcam fetch"); kind = "bad"; }
      else if (state.status === "no_runner") { text = "No runner in view"; kind = "info"; }
      else if (state.status === "starting") { text = "Starting…"; kind = "info"; }
      else if (st.lost) { text = st.lost + " strides were lost while the disk was full"; kind = "warn"; }
      else if (state.flags && state.flags.limits && state.flags.limits.length) { text = "Set-up: " + state.flags.limits.map(function (l) { return l.reason; }).join("; "); kind = "warn"; }
      else if (state.flags && state.flags.snapshots_paused) { text = "Disk almost full: stride snapshots and replay clips paused (live view and strides still recorded)"; kind = "warn"; }
      else if (state.flags && state.flags.clips_paused) { text = "Disk full: replay clips paused (live view and strides still recorded)"; kind = "warn"; }
    }
    b.hidden = !text;
    b.textContent = text;
    b.className = "banner " + kind;
  }

  function renderClass() {
    const card = $("class-card");
    // Walking (a warm-up, a walk-up member stepping on) has no class: its strides are not running ones.
    const walking = ((state.live || {}).locomotion) === "walking";
    card.dataset.locomotion = walking ? "walking" : "running";
    if (walking) {
      card.className = "class-card cls-none walking";
      $("class-letter").textContent = "–";
      $("class-name").textContent = "Walking";
      $("class-meaning").textContent = "Not classified while walking: classes appear once the runner runs";
      return;
    }
    const cls = V.classified.indexOf(state.current_class) >= 0 ? state.current_class : null;
    card.className = "class-card " + (cls ? "cls-" + cls : "cls-none");
    $("class-letter").textContent = cls || "–";
    $("class-name").textContent = cls ? V.classes[cls].name : "Waiting for strides";
    $("class-meaning").textContent = cls ? V.classes[cls].meaning : "Classes appear as strides complete";
  }

  function renderMetrics() {
    const live = state.live || {};
    const strides = state.strides || [];
    // The big numbers are the last stride's values at toe-off (what the class is judged on), with the
    // hip extension's uncertainty; its peak and the instantaneous angles (which swing through the
    // whole cycle) are shown small beneath.
    const last = strides.length ? strides[strides.length - 1] : null;
    const unc = last ? last.hip_extension_uncertainty_deg : null;
    $("m-ext").textContent = fmt(last ? last.hip_extension_at_toe_off_deg : null, 1);
    $("m-ext-unc").textContent = unc !== null && unc !== undefined ? "± " + fmt(unc, 1) + "°" : "";
    $("m-ext-now").textContent = "peak " + fmt(last ? last.hip_extension_deg : null, 1) + "° · now " + fmt(live.hip_extension_deg, 0) + "°";
    $("m-lean").textContent = fmt(last ? last.trunk_lean_at_toe_off_deg : null, 1);
    $("m-lean-now").textContent = "now " + fmt(live.trunk_lean_deg, 0) + "°";
    $("m-cad").textContent = fmt(live.cadence_spm, 0);
    $("stats").textContent = "fps " + fmt(live.fps, 1) + evenly(live) + " · analysis " + fmt(live.inference_ms, 0) +
      " ms · dropped " + (live.frames_dropped || 0) + " · source " + (state.source || "–");
  }

  // When analysis cannot keep the camera's rate it skips frames evenly (service.decimation).
  function evenly(live) {
    const share = live.analysed_share;
    if (share === null || share === undefined || share >= 1 || !live.camera_fps) return "";
    const k = Math.round(1 / share);
    const kept = Math.abs(share * k - 1) < 0.01 && k > 1 ? "1 in " + k : fmt(share * 100, 0) + "%";
    return " of the camera's " + fmt(live.camera_fps, 0) + " (" + kept + " analysed, the rest skipped evenly: " +
      "analysis cannot keep up)";
  }

  // A set-up fault that makes a figure unreliable (service.limits) is said beside it, the value struck.
  function renderLimits() {
    const limits = (state.flags && state.flags.limits) || [];
    ["hip_extension", "trunk_lean", "cadence"].forEach(function (figure) {
      const el = $("limit-" + figure);
      if (!el) return;
      const reasons = limits.filter(function (l) { return l.figures.indexOf(figure) >= 0; }).map(function (l) { return l.short; });
      el.hidden = !reasons.length;
      el.textContent = reasons.length ? "Unreliable: " + reasons.join(", ") : "";
      el.parentElement.classList.toggle("limited", reasons.length > 0);
    });
  }

  function strideTitle(leg, s) {
    const unc = s.hip_extension_uncertainty_deg;
    return leg + " · ext at toe-off " + fmt(s.hip_extension_at_toe_off_deg, 1) + "°" +
      (unc !== null && unc !== undefined ? " ± " + fmt(unc, 1) + "°" : "") +
      " · lean at toe-off " + fmt(s.trunk_lean_at_toe_off_deg, 1) + "° · peak ext " + fmt(s.hip_extension_deg, 1) + "°";
  }

  function renderStrips() {
    V.legs.forEach(function (leg) {
      const strip = $("strip-" + leg);
      const mine = (state.strides || []).filter(function (s) { return s.leg === leg; }).slice(-12).reverse();
      strip.replaceChildren.apply(strip, mine.map(function (s) {
        const c = document.createElement("span");
        c.className = "chip cls-" + s["class"];
        c.textContent = V.classes[s["class"]] ? V.classes[s["class"]].symbol : "?";
        c.title = strideTitle(leg, s);
        return c;
      }));
      const sum = state.legs && state.legs[leg];
      const avg = sum ? sum.hip_extension_at_toe_off_deg : null;
      $("avg-" + leg).textContent = avg !== null && avg !== undefined ? fmt(avg, 0) + "°" : "–";
      $("avg-" + leg).title = "mean hip extension at toe-off, last strides";
    });
  }

  function renderPlot() {
    if (!samples.length) { window.hipcamPlot.draw($("plot"), [], { xMin: 0, xMax: PLOT_WINDOW_S, yMin: -50, yMax: 40, yStep: 10 }); return; }
    const tEnd = samples[samples.length - 1][0], tStart = tEnd - PLOT_WINDOW_S;
    const narrow = $("plot").clientWidth < 600;
    const vis = samples.filter(function (s) { return s[0] >= tStart; });
    const pts = function (i) { return vis.map(function (s) { return [s[0] - tEnd, s[i]]; }); };
    window.hipcamPlot.draw($("plot"), [
      { points: pts(1), color: "#38bdf8", width: 3 },
      { points: pts(2), color: "#f472b6", width: 3 }
    ], { xMin: -PLOT_WINDOW_S, xMax: 0, yMin: -50, yMax: 40, xLabel: "s",
      // a phone-width plot gets more height and fewer grid lines, so the labels do not collide
      yStep: narrow ? 20 : 10, aspect: narrow ? 0.5 : 0.34 });
  }

  function renderSession() {
    const sid = state.flags ? state.flags.session_id : null;
    $("session-idle").hidden = sid !== null && sid !== undefined;
    $("session-active").hidden = sid === null || sid === undefined;
    if (sid !== null && sid !== undefined && sessionLabelFor !== sid) {
      sessionLabelFor = sid;
      $("session-label").textContent = "Session " + sid;
      window.hipcam.api("GET", "/api/sessions/" + sid).then(function (d) {
        const s = d.session;
        $("session-label").textContent = "Session " + s.id + (s.runner ? " · " + s.runner : "") +
          (s.treadmill_speed !== null ? " · " + fmt(s.treadmill_speed, 1) + " km/h" : "");
      }).catch(function () {});
    }
  }

  function render() {
    if (!state) return;
    renderClass(); renderMetrics(); renderLimits(); renderStrips(); renderPlot(); renderSession(); banner();
    if (!calibrating) calButtons(false);
  }

  function onState(full) {
    return function (ev) {
      const s = JSON.parse(ev.data);
      mergeSamples(s.samples || [], full);
      state = s;
      connected = true;
      render();
    };
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("/stream/events");
    source.addEventListener("full", onState(true));
    source.addEventListener("tick", onState(false));
    source.onopen = function () { connected = true; banner(); };
    source.onerror = function () {
      connected = false; banner();
      // The browser retries by itself unless the server refused (e.g. 503 too many viewers).
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    };
  }

  /* ---- camera view: JPEG + the landmarks of that same frame ---- */
  let etag = null;
  let shown = null;       // the frame on the canvas: {bmp, lm, seq, calibrated, rawHips}
  let calibrating = null; // the paused frame's calibration, while the clinician taps
  async function pollCamera() {
    if (document.visibilityState === "visible") {
      try {
        const headers = etag ? { "If-None-Match": etag } : {};
        const resp = await fetch("/stream/frame.jpg", { headers: headers, cache: "no-store" });
        if (resp.status === 200) {
          etag = resp.headers.get("ETag");
          const h = function (k) { const v = resp.headers.get(k); return v ? JSON.parse(v) : null; };
          const frame = { bmp: await createImageBitmap(await resp.blob()), lm: h("X-Landmarks"), seq: Number(resp.headers.get("X-Frame-Seq")),
            calibrated: resp.headers.get("X-Hip-Calibrated") === "1", rawHips: h("X-Hip-Landmarks") };
          if (!calibrating) { shown = frame; drawCamera(frame); }
        }
      } catch (e) { /* next poll retries */ }
    }
    setTimeout(pollCamera, 200);
  }

  function drawCamera(f) {
    const c = $("camera");
    if (c.width !== f.bmp.width || c.height !== f.bmp.height) { c.width = f.bmp.width; c.height = f.bmp.height; }
    c.getContext("2d").drawImage(f.bmp, 0, 0);
    const near = state && state.live ? state.live.leg : null;
    window.hipcamCal.drawPose(c.getContext("2d"), c.width, c.height, f.lm, { near: near, calibrated: f.calibrated, rawHips: f.rawHips });
    $("hip-legend").hidden = !f.calibrated;
    c.dataset.hipCalibrated = f.calibrated ? "1" : "0";
  }

  /* ---- hip calibration on the paused camera frame ---- */
  function runner() { return state && state.flags ? state.flags.runner : null; }
  function calButtons(active) {
    $("cal-btn").hidden = active; $("cal-confirm").hidden = !active; $("cal-cancel").hidden = !active;
    $("cal-clear").hidden = active || !(state && state.flags && state.flags.hip_calibration);
  }
  function calibrate() {
    const st = $("cal-status");
    if (!auth.logged_in) { window.hipcam.toLogin(); return; }
    if (!runner()) { st.textContent = "Start a session with the runner's name first: the calibration is kept per runner."; return; }
    if (!shown || !shown.lm) { st.textContent = "No runner in the camera view to calibrate on."; return; }
    const frame = shown, who = runner();
    calButtons(true);
    calibrating = window.hipcamCal.start({
      canvas: $("camera"), image: frame.bmp, landmarks: frame.lm, near: state.live ? state.live.leg : null,
      hint: "Paused. Tap " + who + "'s greater trochanter (or the marker on it)",
      confirm: $("cal-confirm"), cancel: $("cal-cancel"), status: st,
      save: async function (tap) {
        const d = await window.hipcam.api("PUT", "/api/calibration", { runner: who, tap: tap, frame: { kind: "live", seq: frame.seq } });
        return "Saved for " + who + ": " + window.hipcamCal.describe(d.calibration) + ". Applied from the next frame.";
      },
      done: function () { calibrating = null; calButtons(false); }
    });
  }
  async function clearCalibration() {
    const who = runner();
    if (!who) return;
    try { await window.hipcam.api("DELETE", "/api/calibration?runner=" + encodeURIComponent(who)); $("cal-status").textContent = "Calibration of " + who + " cleared."; }
    catch (e) { if (e.status === 401) { window.hipcam.toLogin(); return; } $("cal-status").textContent = e.message; }
  }

  /* ---- session start / stop ---- */
  function sessionError(msg) { const e = $("session-error"); e.textContent = msg || ""; e.hidden = !msg; }
  async function startSession(ev) {
    ev.preventDefault();
    sessionError("");
    if (!auth.pin_set) { sessionError("No device PIN is set: run `hipcam pin-hash` and add it to the config."); return; }
    if (!auth.logged_in) { window.hipcam.toLogin(); return; }
    const speed = $("speed").value.trim(), name = $("runner").value.trim();
    // A runner picked from the list goes by id; a new name creates the runner (the server's find-or-create).
    const known = runners.find(function (r) { return r.name.toLowerCase() === name.toLowerCase(); });
    const who = known ? { runner_id: known.id } : { runner: name };
    try {
      await window.hipcam.api("POST", "/api/sessions", Object.assign(who, { treadmill_speed: speed === "" ? null : speed }));
      $("runner").value = ""; $("speed").value = "";
      loadRunners();
    } catch (e) {
      if (e.status === 401) { window.hipcam.toLogin(); return; }
      sessionError(e.message);
    }
  }
  let runners = [];
  async function loadRunners() {
    try { runners = (await window.hipcam.api("GET", "/api/runners")).runners.filter(function (r) { return !r.unassigned; }); }
    catch (e) { return; }
    const list = $("runner-options");
    list.replaceChildren.apply(list, runners.map(function (r) { const o = document.createElement("option"); o.value = r.name; return o; }));
  }
  async function stopSession() {
    sessionError("");
    const sid = state && state.flags ? state.flags.session_id : null;
    if (sid === null || sid === undefined) return;
    try {
      await window.hipcam.api("POST", "/api/sessions/" + sid + "/stop");
      window.location.assign("/sessions/" + sid);
    } catch (e) {
      if (e.status === 401) { window.hipcam.toLogin(); return; }
      sessionError(e.message);
    }
  }

  document.addEventListener("DOMContentLoaded", async function () {
    $("start-form").addEventListener("submit", startSession);
    loadRunners();
    $("stop-btn").addEventListener("click", stopSession);
    $("cal-btn").addEventListener("click", calibrate);
    $("cal-clear").addEventListener("click", clearCalibration);
    try { auth = await window.hipcam.api("GET", "/api/auth"); } catch (e) { /* keep defaults */ }
    try { const s = await window.hipcam.api("GET", "/api/state"); mergeSamples(s.samples || [], true); state = s; connected = true; render(); }
    catch (e) { connected = false; banner(); }
    connect();
    pollCamera();
    window.addEventListener("resize", renderPlot);
  });
})();
