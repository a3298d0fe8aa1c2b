/* Live page: SSE state updates, camera view with skeleton, thigh/trunk plot, session start/stop. */
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
      if (state.status === "camera_lost") { text = "Camera lost – " + (state.message || "retrying"); kind = "bad"; }
      else if (state.status === "model_missing") { text = "Model not loaded – " + (state.message || "run hipcam fetch"); kind = "bad"; }
      else if (state.status === "no_runner") { text = "No runner in view"; kind = "info"; }
      else if (state.status === "starting") { text = "Starting…"; kind = "info"; }
      else if (state.flags && state.flags.snapshots_paused) { text = "Disk almost full: stride snapshots paused (live view and strides still recorded)"; kind = "warn"; }
    }
    b.hidden = !text;
    b.textContent = text;
    b.className = "banner " + kind;
  }

  function renderClass() {
    const card = $("class-card");
    const cls = V.classified.indexOf(state.current_class) >= 0 ? state.current_class : null;
    card.className = "class-card " + (cls ? "cls-" + cls : "cls-none");
    $("class-letter").textContent = cls || "–";
    $("class-name").textContent = cls ? V.classes[cls].name : "Waiting for strides";
    $("class-meaning").textContent = cls ? V.classes[cls].meaning : "Classes appear as strides complete";
  }

  function renderMetrics() {
    const live = state.live || {};
    const strides = state.strides || [];
    // The big number is the last stride's peak extension (what the class is judged on); the
    // instantaneous value swings through the whole cycle and is shown small beside it.
    const last = strides.length ? strides[strides.length - 1] : null;
    $("m-ext").textContent = fmt(last ? last.hip_extension_deg : null, 0);
    $("m-ext-now").textContent = "now " + fmt(live.hip_extension_deg, 0) + "°";
    $("m-lean").textContent = fmt(live.trunk_lean_deg, 0);
    $("m-cad").textContent = fmt(live.cadence_spm, 0);
    $("stats").textContent = "fps " + fmt(live.fps, 1) + " · analysis " + fmt(live.inference_ms, 0) + " ms · dropped " +
      (live.frames_dropped || 0) + " · source " + (state.source || "–");
  }

  function renderStrips() {
    V.legs.forEach(function (leg) {
      const strip = $("strip-" + leg);
      const mine = (state.strides || []).filter(function (s) { return s.leg === leg; }).slice(-12).reverse();
      strip.replaceChildren.apply(strip, mine.map(function (s) {
        const c = document.createElement("span");
        c.className = "chip cls-" + s["class"];
        c.textContent = V.classes[s["class"]] ? V.classes[s["class"]].symbol : "?";
        c.title = leg + " · ext " + fmt(s.hip_extension_deg, 1) + "° · lean " + fmt(s.trunk_lean_deg, 1) + "°";
        return c;
      }));
      const sum = state.legs && state.legs[leg];
      $("avg-" + leg).textContent = sum && sum.hip_extension_deg !== null ? fmt(sum.hip_extension_deg, 0) + "°" : "–";
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
    renderClass(); renderMetrics(); renderStrips(); renderPlot(); renderSession(); banner();
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
  async function pollCamera() {
    if (document.visibilityState === "visible") {
      try {
        const headers = etag ? { "If-None-Match": etag } : {};
        const resp = await fetch("/stream/frame.jpg", { headers: headers, cache: "no-store" });
        if (resp.status === 200) {
          etag = resp.headers.get("ETag");
          const lmText = resp.headers.get("X-Landmarks");
          const bmp = await createImageBitmap(await resp.blob());
          drawCamera(bmp, lmText ? JSON.parse(lmText) : null);
        }
      } catch (e) { /* next poll retries */ }
    }
    setTimeout(pollCamera, 200);
  }

  function drawCamera(bmp, lm) {
    const c = $("camera");
    if (c.width !== bmp.width || c.height !== bmp.height) { c.width = bmp.width; c.height = bmp.height; }
    const ctx = c.getContext("2d");
    ctx.drawImage(bmp, 0, 0);
    if (!lm) return;
    const W = c.width, H = c.height, P = function (i) { return [lm[i][0] * W, lm[i][1] * H]; };
    const vis = function (i) { return lm[i] && lm[i][2] >= 0.3; };
    const line = function (a, b, color, width) {
      ctx.strokeStyle = color; ctx.lineWidth = width; ctx.lineCap = "round";
      ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
    };
    V.edges.forEach(function (e) { if (vis(e[0]) && vis(e[1])) line(P(e[0]), P(e[1]), V.colours.skeleton, 2); });
    const mid = function (a, b) { const p = P(a), q = P(b); return [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2]; };
    const near = state && state.live ? state.live.leg : null;
    // Thigh lines (hip -> knee) and the trunk line (hip midpoint -> shoulder midpoint): the angles' sources.
    V.legs.forEach(function (leg) {
      const hip = J[leg].hip, knee = J[leg].knee;
      if (vis(hip) && vis(knee)) line(P(hip), P(knee), V.colours.thigh, near === leg || !near ? 7 : 3);
    });
    const ls = J.left.shoulder, rs = J.right.shoulder, lh = J.left.hip, rh = J.right.hip;
    if (vis(ls) && vis(rs) && vis(lh) && vis(rh)) line(mid(lh, rh), mid(ls, rs), V.colours.trunk, 6);
  }

  /* ---- session start / stop ---- */
  function sessionError(msg) { const e = $("session-error"); e.textContent = msg || ""; e.hidden = !msg; }
  async function startSession(ev) {
    ev.preventDefault();
    sessionError("");
    if (!auth.pin_set) { sessionError("No device PIN is set: run `hipcam pin-hash` and add it to the config."); return; }
    if (!auth.logged_in) { window.hipcam.toLogin(); return; }
    const speed = $("speed").value.trim();
    try {
      await window.hipcam.api("POST", "/api/sessions", { runner: $("runner").value.trim(), treadmill_speed: speed === "" ? null : speed });
      $("runner").value = ""; $("speed").value = "";
    } catch (e) {
      if (e.status === 401) { window.hipcam.toLogin(); return; }
      sessionError(e.message);
    }
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
    $("stop-btn").addEventListener("click", stopSession);
    try { auth = await window.hipcam.api("GET", "/api/auth"); } catch (e) { /* keep defaults */ }
    try { const s = await window.hipcam.api("GET", "/api/state"); mergeSamples(s.samples || [], true); state = s; connected = true; render(); }
    catch (e) { connected = false; banner(); }
    connect();
    pollCamera();
    window.addEventListener("resize", renderPlot);
  });
})();
