/* hipcam label: step through a clip, mark foot strikes / toe-offs, click joints, save the truth.
   The server (web_ui/labelling.py) recomputes the angles and the cadence on save; the formula here
   is the same as hipcam.records.truth.segment_angles, for display only. */
"use strict";
(function () {
  const $ = function (id) { return document.getElementById(id); };
  const meta = JSON.parse($("label-meta").textContent);
  const token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const N = meta.frame_count, W = meta.width, H = meta.height, C = meta.colours;
  const POINTS = ["shoulder_px", "hip_px", "knee_px"], PT_LABEL = { shoulder_px: "S", hip_px: "H", knee_px: "K" };
  const TYPE_NAME = { foot_strike: "foot strike", toe_off: "toe-off" };
  const st = { cur: 0, leg: "right", point: "shoulder_px", truth: null, dirty: false, partial: {},
    k: 1, ox: 0, oy: 0, fitted: false, mouse: null, drag: null, playing: null, shown: null };
  const view = $("view"), ctx = view.getContext("2d"), tl = $("timeline"), tctx = tl.getContext("2d");
  const cache = new Map();
  ["left", "right"].forEach(function (leg) { document.documentElement.style.setProperty("--" + leg, C[leg]); });

  // --- frames --------------------------------------------------------------------------------
  function frameImg(n) {
    let img = cache.get(n);
    if (!img) {
      img = new Image();
      img.onload = function () { if (n === st.cur) draw(); };
      img.src = "/frame/" + n + ".jpg?r=" + meta.run;
      cache.set(n, img);
      if (cache.size > 400) cache.delete(cache.keys().next().value);
    }
    return img;
  }
  function go(n) {
    st.cur = Math.max(0, Math.min(N - 1, Math.round(n)));
    frameImg(st.cur);
    for (let d = 1; d <= 6; d++) { if (st.cur + d < N) frameImg(st.cur + d); if (d <= 3 && st.cur - d >= 0) frameImg(st.cur - d); }
    render();
  }

  // --- angles (as hipcam.records.truth.segment_angles) ---------------------------------------
  function angles(p) {
    const ahead = st.truth.running_direction_in_image === "right" ? 1 : -1, deg = 180 / Math.PI;
    const r1 = function (v) { return Math.round(v * 10) / 10; };
    const thigh = r1(Math.atan2(-ahead * (p.knee_px[0] - p.hip_px[0]), p.knee_px[1] - p.hip_px[1]) * deg);
    const trunk = r1(Math.atan2(ahead * (p.shoulder_px[0] - p.hip_px[0]), p.hip_px[1] - p.shoulder_px[1]) * deg);
    return { thigh_deg: thigh, trunk_deg: trunk, hip_ext_deg: r1(thigh - trunk) };
  }
  function entryAt(n) { return st.truth.toe_off_angles.find(function (a) { return a.frame === n; }); }
  function pointsAt(n) { return entryAt(n) || st.partial[n] || {}; }
  function setPoint(ix, iy) {
    const n = st.cur, p = Object.assign({ frame: n }, pointsAt(n));
    p[st.point] = [Math.round(ix * 10) / 10, Math.round(iy * 10) / 10];
    const list = st.truth.toe_off_angles.filter(function (a) { return a.frame !== n; });
    if (POINTS.every(function (k) { return p[k]; })) {
      delete st.partial[n];
      list.push(Object.assign(p, angles(p)));
      list.sort(function (a, b) { return a.frame - b.frame; });
    } else {
      st.partial[n] = p;
    }
    st.truth.toe_off_angles = list;
    const next = POINTS.find(function (k) { return !p[k]; });
    if (next) st.point = next;
    changed();
  }
  function clearPoints() {
    delete st.partial[st.cur];
    st.truth.toe_off_angles = st.truth.toe_off_angles.filter(function (a) { return a.frame !== st.cur; });
    st.point = "shoulder_px";
    changed();
  }

  // --- events --------------------------------------------------------------------------------
  function toggleEvent(type) {
    const ev = st.truth.events, i = ev.findIndex(function (e) { return e.frame === st.cur && e.leg === st.leg && e.type === type; });
    if (i >= 0) ev.splice(i, 1);
    else ev.push({ frame: st.cur, leg: st.leg, type: type, confidence_frames: Math.max(0, parseInt($("conf").value, 10) || 0) });
    ev.sort(function (a, b) { return a.frame - b.frame || a.leg.localeCompare(b.leg); });
    changed();
  }
  function markFrames() {
    const s = new Set(st.truth.events.map(function (e) { return e.frame; }));
    st.truth.toe_off_angles.forEach(function (a) { s.add(a.frame); });
    return Array.from(s).sort(function (a, b) { return a - b; });
  }
  function jumpMark(dir) {
    const f = markFrames(), t = dir > 0 ? f.find(function (x) { return x > st.cur; }) : f.reverse().find(function (x) { return x < st.cur; });
    if (t !== undefined) go(t);
  }

  // --- view: fit, zoom about a point, pan ------------------------------------------------------
  function layout() {
    const wrap = $("canvas-wrap"), r = wrap.getBoundingClientRect();
    const below = wrap.parentElement.getBoundingClientRect().bottom - r.bottom;
    const avail = Math.max(200, window.innerHeight - r.top - below - 14);
    const cw = wrap.clientWidth, ch = Math.min(avail, cw * H / W), dpr = window.devicePixelRatio || 1;
    for (const [c, w, h] of [[view, cw, ch], [tl, tl.clientWidth, tl.clientHeight]]) {
      c.style.height = h + "px"; c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    }
    if (!st.fitted) fit();
    render();
  }
  function cssSize() { const d = window.devicePixelRatio || 1; return [view.width / d, view.height / d]; }
  function fitScale() { const [cw, ch] = cssSize(); return Math.min(cw / W, ch / H); }
  function fit() {
    const [cw, ch] = cssSize(), k = fitScale();
    st.k = k; st.ox = (cw - W * k) / 2; st.oy = (ch - H * k) / 2; st.fitted = true;
  }
  function zoom(f, mx, my) {
    const [cw, ch] = cssSize();
    if (mx === undefined) { mx = cw / 2; my = ch / 2; }
    const k = Math.max(fitScale(), Math.min(fitScale() * 24, st.k * f));
    st.ox = mx - (mx - st.ox) * k / st.k; st.oy = my - (my - st.oy) * k / st.k; st.k = k;
    if (k === fitScale()) fit();
    draw();
  }
  function toImage(e) { const r = view.getBoundingClientRect(); const x = e.clientX - r.left, y = e.clientY - r.top; return [x, y, (x - st.ox) / st.k, (y - st.oy) / st.k]; }

  // --- drawing ---------------------------------------------------------------------------------
  function draw() {
    const dpr = window.devicePixelRatio || 1, [cw, ch] = cssSize(), img = frameImg(st.cur);
    if (img.complete && img.naturalWidth) st.shown = img;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#05080b"; ctx.fillRect(0, 0, cw, ch);
    ctx.imageSmoothingEnabled = st.k < 2.5;
    if (st.shown) ctx.drawImage(st.shown, st.ox, st.oy, W * st.k, H * st.k);
    drawPoints(pointsAt(st.cur));
    drawBadges(cw);
    $("zoom-read").textContent = "zoom " + (st.k / fitScale()).toFixed(1) + "×";
  }
  function P(p) { return [st.ox + p[0] * st.k, st.oy + p[1] * st.k]; }
  function line(a, b, colour, dash) {
    ctx.strokeStyle = colour; ctx.lineWidth = 2.5; ctx.setLineDash(dash || []);
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke(); ctx.setLineDash([]);
  }
  function drawPoints(p) {
    if (p.hip_px) {
      const h = P(p.hip_px), reach = 60 + 40 * st.k;
      line([h[0], h[1] - reach], [h[0], h[1] + reach], "rgba(255,255,255,.55)", [5, 5]);
      if (p.shoulder_px) line(h, P(p.shoulder_px), C.trunk);
      if (p.knee_px) line(h, P(p.knee_px), C.thigh);
    }
    POINTS.forEach(function (k) {
      if (!p[k]) return;
      const q = P(p[k]), sel = k === st.point;
      ctx.beginPath(); ctx.arc(q[0], q[1], sel ? 7 : 5.5, 0, 2 * Math.PI);
      ctx.fillStyle = k === "shoulder_px" ? C.trunk : k === "knee_px" ? C.thigh : "#fff"; ctx.fill();
      ctx.lineWidth = 2; ctx.strokeStyle = "#000"; ctx.stroke();
      ctx.font = "bold 13px system-ui, sans-serif"; ctx.fillStyle = "#fff"; ctx.fillText(PT_LABEL[k], q[0] + 9, q[1] - 8);
    });
    if (p.thigh_deg !== undefined) {
      const txt = ["thigh " + fmt(p.thigh_deg), "trunk " + fmt(p.trunk_deg), "hip ext " + fmt(p.hip_ext_deg)];
      box(10, 10, txt, [C.thigh, C.trunk, "#fff"]);
    }
  }
  function drawBadges(cw) {
    const here = st.truth.events.filter(function (e) { return e.frame === st.cur; });
    const txt = here.map(function (e) { return e.leg + " " + TYPE_NAME[e.type]; });
    if (txt.length) box(cw - 190, 10, txt, here.map(function (e) { return C[e.leg]; }));
    const want = POINTS.filter(function (k) { return !pointsAt(st.cur)[k]; });
    if (want.length && want.length < 3) box(10, 10, ["click: " + st.point.replace("_px", "")], ["#fff"]);
  }
  function box(x, y, lines, colours) {
    ctx.font = "600 15px system-ui, sans-serif";
    ctx.fillStyle = "rgba(5,8,11,.78)"; ctx.fillRect(x, y, 180, 10 + 22 * lines.length);
    lines.forEach(function (t, i) { ctx.fillStyle = colours[i]; ctx.fillText(t, x + 10, y + 24 + 22 * i); });
  }
  function fmt(v) { return (v > 0 ? "+" : "") + v.toFixed(1) + "°"; }
  const GUTTER = 46;  // the timeline's row names
  function fx(f) { const d = window.devicePixelRatio || 1; return GUTTER + (f + 0.5) / N * (tl.width / d - GUTTER); }
  function tick() { const s = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]; return s.find(function (v) { return N / v <= 16; }) || 10000; }
  function drawTimeline() {
    const d = window.devicePixelRatio || 1, w = tl.width / d, h = tl.height / d, fa = st.truth.frames_analyzed;
    tctx.setTransform(d, 0, 0, d, 0, 0);
    tctx.fillStyle = "#0b1117"; tctx.fillRect(0, 0, w, h);
    const fw = (w - GUTTER) / N;
    tctx.fillStyle = "#1b2631"; tctx.fillRect(fx(fa[0]) - fw / 2, 0, fx(fa[1]) - fx(fa[0]) + fw, h);
    tctx.font = "11px system-ui, sans-serif"; tctx.fillStyle = "#93a1b0";
    const yl = 30, yj = 48, yr = h - 12;  // rows: frame numbers, left, joints, right
    tctx.fillText("left", 4, yl + 4); tctx.fillText("joints", 4, yj + 4); tctx.fillText("right", 4, yr + 4);
    for (let f = 0, s = tick(); f < N; f += s) {
      tctx.fillStyle = "#2a3642"; tctx.fillRect(fx(f), 0, 1, h);
      tctx.fillStyle = "#64748b"; tctx.fillText(String(f), fx(f) + 3, 12);
    }
    st.truth.events.forEach(function (e) {
      const x = fx(e.frame), y = e.leg === "left" ? yl : yr, dn = e.type === "foot_strike" ? 1 : -1;
      tctx.fillStyle = C[e.leg]; tctx.beginPath();
      tctx.moveTo(x - 6, y - 6 * dn); tctx.lineTo(x + 6, y - 6 * dn); tctx.lineTo(x, y + 6 * dn); tctx.closePath();
      if (e.type === "foot_strike") tctx.fill(); else { tctx.strokeStyle = C[e.leg]; tctx.lineWidth = 2; tctx.stroke(); }
    });
    st.truth.toe_off_angles.forEach(function (a) { tctx.fillStyle = C.trunk; tctx.fillRect(fx(a.frame) - 2, yj - 4, 4, 8); });
    tctx.fillStyle = "#fff"; tctx.fillRect(fx(st.cur) - 1, 0, 2, h);
  }

  // --- side panel ------------------------------------------------------------------------------
  function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function row(frame, parts, onDelete) {
    const li = el("li", frame === st.cur ? "here-row" : "");
    const jump = el("button", "link", "#" + frame); jump.type = "button"; jump.addEventListener("click", function () { go(frame); });
    li.appendChild(jump);
    parts.forEach(function (p) { li.appendChild(p); });
    const del = el("button", "del", "×"); del.type = "button"; del.title = "delete"; del.addEventListener("click", onDelete);
    li.appendChild(del);
    return li;
  }
  function renderLists() {
    const evs = $("events"), ang = $("angles");
    evs.replaceChildren(); ang.replaceChildren();
    st.truth.events.forEach(function (e) {
      const conf = el("input", "conf"); conf.type = "number"; conf.min = "0"; conf.value = e.confidence_frames; conf.title = "± frames";
      conf.addEventListener("change", function () { e.confidence_frames = Math.max(0, parseInt(conf.value, 10) || 0); changed(); });
      const chip = el("span", "chip", e.leg); chip.style.color = C[e.leg];
      evs.appendChild(row(e.frame, [chip, el("span", "what", TYPE_NAME[e.type]), el("span", "pm", "±"), conf],
        function () { st.truth.events.splice(st.truth.events.indexOf(e), 1); changed(); }));
    });
    if (!st.truth.events.length) evs.appendChild(el("li", "dim small", "no events yet"));
    st.truth.toe_off_angles.forEach(function (a) {
      const txt = "thigh " + fmt(a.thigh_deg) + " · trunk " + fmt(a.trunk_deg) + " · ext " + fmt(a.hip_ext_deg);
      ang.appendChild(row(a.frame, [el("span", "what", txt)], function () {
        st.truth.toe_off_angles = st.truth.toe_off_angles.filter(function (b) { return b !== a; }); changed();
      }));
    });
    [evs, ang].forEach(function (l) { const h = l.querySelector(".here-row"); if (h) h.scrollIntoView({ block: "nearest" }); });
    if (!st.truth.toe_off_angles.length) ang.appendChild(el("li", "dim small", "no joints yet: pick a point, click it on the frame"));
  }
  function pressed(seg, attr, value) {
    document.querySelectorAll("#" + seg + " [data-" + attr + "]").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset[attr] === value)); });
  }
  function render() {
    if (!st.truth) return;
    const t = st.truth, here = t.events.filter(function (e) { return e.frame === st.cur; });
    $("slider").value = st.cur; $("frame-input").value = st.cur; $("frame-of").textContent = "/ " + (N - 1);
    $("time-read").textContent = (st.cur / meta.fps).toFixed(3) + " s" + (meta.true_fps ? " · real " + (st.cur / meta.true_fps).toFixed(3) + " s" : "");
    $("here").textContent = here.map(function (e) { return e.leg + " " + TYPE_NAME[e.type]; }).join(" · ");
    pressed("leg-seg", "leg", st.leg); pressed("point-seg", "point", st.point);
    pressed("dir-seg", "dir", t.running_direction_in_image); pressed("near-seg", "near", t.near_side_leg);
    const mine = function (type) { return here.some(function (e) { return e.leg === st.leg && e.type === type; }); };
    $("strike-btn").setAttribute("aria-pressed", String(mine("foot_strike")));
    $("toeoff-btn").setAttribute("aria-pressed", String(mine("toe_off")));
    $("first").value = t.frames_analyzed[0]; $("last").value = t.frames_analyzed[1];
    $("cadence").textContent = t.cadence_spm === null || t.cadence_spm === undefined ? "– (from two strikes and the real rate, on saving)" : t.cadence_spm + " steps/min";
    renderLists(); draw(); drawTimeline();
  }
  function fileName(p) { return p.split(/[\\/]/).pop(); }
  function changed() { st.dirty = true; status("unsaved changes", "warn"); render(); }
  function status(text, cls) { const s = $("save-status"); s.textContent = text; s.className = "status " + (cls || ""); }

  // --- load / save ---------------------------------------------------------------------------
  async function request(method, body) {
    const opts = { method: method, headers: { "X-CSRF-Token": token } };
    if (body) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const resp = await fetch("/api/truth", opts);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) throw new Error((data && data.error) || "request failed (" + resp.status + ")");
    return data;
  }
  function take(data) {
    st.truth = data.truth; st.dirty = false;
    st.leg = data.truth.near_side_leg;
    $("save-status").title = data.path;
    status(data.saved ? "saved · " + fileName(data.path) : "not saved yet · will write " + fileName(data.path), data.saved ? "ok" : "");
    render();
  }
  async function save() {
    if (Object.keys(st.partial).length) status("saving (frames with fewer than 3 joints are left out)…", "warn");
    else status("saving…", "");
    try {
      const data = await request("PUT", st.truth);
      take(data);
      status("saved " + new Date().toLocaleTimeString() + " · " + fileName(data.path), "ok");
    } catch (e) { status(e.message, "bad"); }
  }

  // --- input -----------------------------------------------------------------------------------
  function play() {
    if (st.playing) { clearInterval(st.playing); st.playing = null; $("play-btn").textContent = "▶"; return; }
    $("play-btn").textContent = "⏸";
    st.playing = setInterval(function () { if (st.cur >= N - 1) play(); else go(st.cur + 1); }, 1000 / Math.min(meta.fps, 30));
  }
  function setRange(i) { const fa = st.truth.frames_analyzed.slice(); fa[i] = st.cur; if (fa[0] > fa[1]) fa[1 - i] = st.cur; st.truth.frames_analyzed = fa; changed(); }
  function onKey(e) {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") { e.preventDefault(); save(); return; }
    const t = e.target, typing = t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "range");
    if (typing || e.ctrlKey || e.metaKey || e.altKey || !st.truth) return;
    const step = e.shiftKey ? 10 : 1, m = st.mouse || [];
    const acts = {
      ArrowLeft: function () { go(st.cur - step); }, ArrowRight: function () { go(st.cur + step); },
      Home: function () { go(0); }, End: function () { go(N - 1); }, "[": function () { jumpMark(-1); }, "]": function () { jumpMark(1); },
      " ": play, l: function () { st.leg = "left"; render(); }, r: function () { st.leg = "right"; render(); },
      s: function () { toggleEvent("foot_strike"); }, t: function () { toggleEvent("toe_off"); },
      1: function () { st.point = POINTS[0]; render(); }, 2: function () { st.point = POINTS[1]; render(); }, 3: function () { st.point = POINTS[2]; render(); },
      c: clearPoints, f: function () { setRange(0); }, e: function () { setRange(1); },
      "+": function () { zoom(1.25, m[0], m[1]); }, "=": function () { zoom(1.25, m[0], m[1]); }, "-": function () { zoom(0.8, m[0], m[1]); },
      0: function () { fit(); draw(); },
    };
    const act = acts[e.key.length === 1 ? e.key.toLowerCase() : e.key];
    if (act) { e.preventDefault(); act(); }
  }
  function bindCanvas() {
    view.addEventListener("wheel", function (e) { e.preventDefault(); const p = toImage(e); zoom(e.deltaY < 0 ? 1.2 : 1 / 1.2, p[0], p[1]); }, { passive: false });
    view.addEventListener("mousedown", function (e) { const p = toImage(e); st.drag = { x: p[0], y: p[1], ox: st.ox, oy: st.oy, moved: false }; });
    window.addEventListener("mousemove", function (e) {
      if (e.target === view) st.mouse = toImage(e);
      if (!st.drag) return;
      const p = toImage(e), dx = p[0] - st.drag.x, dy = p[1] - st.drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) st.drag.moved = true;
      if (st.drag.moved) { st.ox = st.drag.ox + dx; st.oy = st.drag.oy + dy; view.style.cursor = "grabbing"; draw(); }
    });
    window.addEventListener("mouseup", function (e) {
      const d = st.drag; st.drag = null; view.style.cursor = "";
      if (!d || d.moved || e.target !== view) return;
      const p = toImage(e);
      if (p[2] >= 0 && p[3] >= 0 && p[2] <= W && p[3] <= H) setPoint(p[2], p[3]);
    });
    const seek = function (e) { const r = tl.getBoundingClientRect(); go((e.clientX - r.left - GUTTER) / (r.width - GUTTER) * N - 0.5); };
    tl.addEventListener("mousedown", function (e) { seek(e); const mv = function (ev) { seek(ev); }; window.addEventListener("mousemove", mv);
      window.addEventListener("mouseup", function () { window.removeEventListener("mousemove", mv); }, { once: true }); });
  }
  function bindForm() {
    document.querySelectorAll("[data-step]").forEach(function (b) { b.addEventListener("click", function () { go(st.cur + Number(b.dataset.step)); }); });
    document.querySelectorAll("[data-leg]").forEach(function (b) { b.addEventListener("click", function () { st.leg = b.dataset.leg; render(); }); });
    document.querySelectorAll("[data-point]").forEach(function (b) { b.addEventListener("click", function () { st.point = b.dataset.point; render(); }); });
    document.querySelectorAll("[data-dir]").forEach(function (b) { b.addEventListener("click", function () {
      st.truth.running_direction_in_image = b.dataset.dir;
      st.truth.toe_off_angles.forEach(function (a) { Object.assign(a, angles(a)); }); changed(); }); });
    document.querySelectorAll("[data-near]").forEach(function (b) { b.addEventListener("click", function () { st.truth.near_side_leg = b.dataset.near; st.leg = b.dataset.near; changed(); }); });
    $("strike-btn").addEventListener("click", function () { toggleEvent("foot_strike"); });
    $("toeoff-btn").addEventListener("click", function () { toggleEvent("toe_off"); });
    $("clear-pts").addEventListener("click", clearPoints);
    $("play-btn").addEventListener("click", play);
    $("save-btn").addEventListener("click", save);
    $("set-first").addEventListener("click", function () { setRange(0); });
    $("set-last").addEventListener("click", function () { setRange(1); });
    $("slider").max = N - 1; $("frame-input").max = N - 1;
    $("slider").addEventListener("input", function () { go(Number($("slider").value)); });
    $("frame-input").addEventListener("change", function () { go(Number($("frame-input").value)); });
    $("roll").addEventListener("change", function () { st.truth.camera_roll_deg = Number($("roll").value) || 0; changed(); });
    $("notes").addEventListener("input", function () { st.truth.notes = $("notes").value; changed(); });
    const range = function () { st.truth.frames_analyzed = [Number($("first").value) || 0, Number($("last").value) || 0]; changed(); };
    $("first").addEventListener("change", range); $("last").addEventListener("change", range);
  }

  document.addEventListener("DOMContentLoaded", async function () {
    bindForm(); bindCanvas();
    document.addEventListener("keydown", onKey);
    // A clicked button gives the focus back, so Space and the letters stay the page's keys.
    document.addEventListener("click", function (e) { const b = e.target.closest("button"); if (b && e.detail > 0) b.blur(); });
    window.addEventListener("resize", function () { st.fitted = false; layout(); });
    window.addEventListener("beforeunload", function (e) { if (st.dirty) { e.preventDefault(); e.returnValue = ""; } });
    try {
      take(await request("GET"));
      $("roll").value = st.truth.camera_roll_deg; $("notes").value = st.truth.notes || "";
      go(st.truth.frames_analyzed[0]); layout();
    } catch (e) { status(e.message, "bad"); }
  });
})();
