/* Stride replay on the session page: a stride's frames (its kept clip, else a blank canvas) with the
   skeleton, the thigh line (the stride's leg, hip to knee) and the trunk line (near-side hip to
   shoulder) and their angles drawn from its landmarks, at 1x, 1/4x or frame by frame (buttons, ← →,
   space); side by side best vs worst and this session vs the runner's first (baseline) session; stars.
   Angles as the analysis measures them (docs/gait.md): levelled by the camera roll, thigh from the
   downward vertical (+ knee behind the hip), trunk from the upward vertical (+ shoulders ahead),
   hip extension = thigh - trunk. */
"use strict";
(function () {
  const V = window.hipcam.vocab, fmt = window.hipcam.fmt, J = V.leg_joints;
  const MIN_VIS = 0.3, MAX_W = 640, MAX_H = 480;

  function deg(v) { return fmt(v, 1) + "°"; }
  function signed(v) { return v === null || v === undefined ? "–" : (v >= 0 ? "+" : "") + fmt(v, 1) + "°"; }

  /* One canvas showing one stride. */
  function Pane(fig) {
    this.fig = fig; this.canvas = fig.querySelector("canvas"); this.caption = fig.querySelector("figcaption");
    this.ctx = this.canvas.getContext("2d"); this.data = null; this.images = []; this.k = 0;
  }
  Pane.prototype.load = async function (sessionId, strideId, label) {
    const data = await window.hipcam.api("GET", "/api/sessions/" + sessionId + "/strides/" + strideId + "/clip");
    const self = this;
    this.data = data; this.k = 0; this.label = label || "";
    this.at = {}; data.joints.forEach(function (j, i) { self.at[j] = i; });
    this.images = data.images.map(function (url) {
      const img = new Image();
      img.addEventListener("load", function () { if (self.data === data && self.frame() && data.images[self.frame().image] === url) self.draw(); });
      img.src = url;
      return img;
    });
    const scale = Math.min(MAX_W / data.width, MAX_H / data.height);
    this.canvas.width = Math.round(data.width * scale); this.canvas.height = Math.round(data.height * scale);
    const st = data.stride;
    this.caption.textContent = (label ? label + " · " : "") + "session " + data.session_id + " · " + st.leg + " leg · class " +
      V.classes[st["class"]].symbol + " · hip ext at toe-off " + deg(st.hip_extension_at_toe_off_deg) + " · trunk lean " +
      deg(st.trunk_lean_at_toe_off_deg) + (data.clip ? "" : " · no clip kept: stick figure from the landmarks");
    this.canvas.dataset.clip = data.clip ? "1" : "0";
    this.draw();
  };
  Pane.prototype.count = function () { return this.data ? this.data.frames.length : 0; };
  Pane.prototype.frame = function () { return this.data ? this.data.frames[this.k] : null; };
  Pane.prototype.point = function (f, joint) {
    const p = f.landmarks ? f.landmarks[this.at[joint]] : null;
    if (!p || p[0] === null || p[1] === null || !(p[2] >= MIN_VIS)) return null;
    return [p[0] * this.canvas.width, p[1] * this.canvas.height];
  };
  /* Levelled angle of the vector a -> b: from the upward vertical (up) or the downward one. */
  Pane.prototype.angle = function (a, b, up) {
    const d = this.data.direction === "left" ? -1 : 1, r = -(this.data.roll_deg || 0) * Math.PI / 180;
    const W = this.canvas.width, H = this.canvas.height;
    const dx0 = (b[0] - a[0]) * this.data.width / W, dy0 = (b[1] - a[1]) * this.data.height / H;
    const dx = Math.cos(r) * dx0 - Math.sin(r) * dy0, dy = Math.sin(r) * dx0 + Math.cos(r) * dy0;
    return (up ? Math.atan2(d * dx, -dy) : Math.atan2(-d * dx, dy)) * 180 / Math.PI;
  };
  function stroke(ctx, a, b, colour, width, dash) {
    ctx.setLineDash(dash || []);
    ctx.lineCap = "round";
    ctx.strokeStyle = "#000"; ctx.lineWidth = width + 3; ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
    ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
    ctx.setLineDash([]);
  }
  Pane.prototype.background = function (f) {
    const ctx = this.ctx, W = this.canvas.width, H = this.canvas.height;
    const img = f && f.image !== null && f.image !== undefined ? this.images[f.image] : null;
    if (img && img.complete && img.naturalWidth) { ctx.drawImage(img, 0, 0, W, H); return; }
    ctx.fillStyle = "#10161d"; ctx.fillRect(0, 0, W, H);
    ctx.fillStyle = "#93a1b0"; ctx.font = "14px system-ui, sans-serif";
    ctx.fillText(this.data.clip ? "loading frame…" : "no clip kept: landmarks only", 10, H - 12);
  };
  Pane.prototype.lines = function (f) {
    const ctx = this.ctx, self = this, st = this.data.stride, t = Math.max(2, this.canvas.width / 160);
    V.edges.forEach(function (e) {
      const a = self.point(f, e[0]), b = self.point(f, e[1]);
      if (a && b) stroke(ctx, a, b, "rgba(255,255,255,0.8)", 1.5);
    });
    const leg = J[st.leg], side = J[this.data.near_leg || st.leg], out = {};
    const hip = this.point(f, leg.hip), knee = this.point(f, leg.knee);
    const thip = this.point(f, side.hip), shoulder = this.point(f, side.shoulder);
    if (thip && shoulder) {
      const len = Math.hypot(shoulder[0] - thip[0], shoulder[1] - thip[1]);
      stroke(ctx, thip, [thip[0], thip[1] - len], "#ccc", 1.5, [5, 5]);
      stroke(ctx, thip, shoulder, V.colours.trunk, t, [10, 6]);
      out.trunk = this.angle(thip, shoulder, true);
    }
    if (hip && knee) {
      const len = Math.hypot(knee[0] - hip[0], knee[1] - hip[1]);
      stroke(ctx, hip, [hip[0], hip[1] + len], "#ccc", 1.5, [5, 5]);
      stroke(ctx, hip, knee, V.colours.thigh, t);
      out.thigh = this.angle(hip, knee, false);
    }
    return out;
  };
  Pane.prototype.panel = function (f, angles) {
    const ctx = this.ctx, st = this.data.stride, n = this.count();
    const ext = angles.thigh !== undefined && angles.trunk !== undefined ? angles.thigh - angles.trunk : null;
    const event = f.number === st.toe_off_frame ? " · TOE-OFF" : (f.number === st.foot_strike_frame ? " · foot strike" : (f.number === st.end_frame ? " · next foot strike" : ""));
    const rows = ["thigh " + signed(angles.thigh) + "  trunk " + signed(angles.trunk), "hip extension " + signed(ext),
      "frame " + (this.k + 1) + "/" + n + " · " + fmt(f.t - this.data.frames[0].t, 3) + " s"];
    if (event) rows.push(event.slice(3));
    const size = Math.round(Math.max(11, Math.min(15, this.canvas.width / 21)));
    ctx.font = "bold " + size + "px system-ui, sans-serif";
    const w = Math.max.apply(null, rows.map(function (r) { return ctx.measureText(r).width; })) + 16;
    const step = size + 5;
    ctx.fillStyle = "rgba(0,0,0,0.78)"; ctx.fillRect(0, 0, w, rows.length * step + 10);
    ctx.fillStyle = "#fff";
    rows.forEach(function (r, i) { ctx.fillText(r, 8, size + 7 + i * step); });
  };
  Pane.prototype.draw = function () {
    if (!this.data || !this.count()) return;
    const f = this.frame();
    this.background(f);
    const angles = this.lines(f);
    this.panel(f, angles);
    this.canvas.dataset.frame = String(this.k + 1);
    this.canvas.dataset.drawn = "1";
  };
  Pane.prototype.show = function (k) { this.k = Math.max(0, Math.min(this.count() - 1, k)); this.draw(); };
  Pane.prototype.follow = function (lead) {  // the same phase of the stride as the leading pane
    const n = lead.count() - 1;
    this.show(n > 0 ? Math.round(lead.k / n * (this.count() - 1)) : 0);
  };

  window.hipcamReplay = { Pane: Pane };
})();

document.addEventListener("DOMContentLoaded", function () {
  const report = document.getElementById("report"), box = document.getElementById("replay");
  if (!report || !box) return;
  const id = Number(report.dataset.sessionId), loggedIn = report.dataset.loggedIn === "1";
  const $ = function (x) { return document.getElementById(x); };
  const a = new window.hipcamReplay.Pane($("replay-a")), b = new window.hipcamReplay.Pane($("replay-b"));
  let playing = null, overview = null, current = null;

  function counter() { $("replay-counter").textContent = a.count() ? "frame " + (a.k + 1) + " / " + a.count() : "–"; }
  function show(k) { a.show(k); if (!$("replay-b").hidden) b.follow(a); counter(); }
  function stop() {
    if (playing) cancelAnimationFrame(playing.raf);
    playing = null;
    ["replay-play", "replay-slow"].forEach(function (x) { $(x).setAttribute("aria-pressed", "false"); });
  }
  function play(rate, button) {
    const wasRate = playing && playing.rate;
    stop();
    if (wasRate === rate || !a.count()) return;  // the same button again pauses
    button.setAttribute("aria-pressed", "true");
    const times = a.data.frames.map(function (f) { return f.t; });
    playing = { rate: rate, last: null, sim: times[a.k] - times[0] };
    function tick(now) {
      if (!playing) return;
      if (playing.last !== null) playing.sim += (now - playing.last) / 1000 * rate;
      playing.last = now;
      let k = a.k;
      while (k + 1 < times.length && times[k + 1] - times[0] <= playing.sim) k++;
      if (k + 1 >= times.length && playing.sim > times[k] - times[0] + 0.3) { k = 0; playing.sim = 0; }  // loop
      if (k !== a.k) show(k);
      playing.raf = requestAnimationFrame(tick);
    }
    playing.raf = requestAnimationFrame(tick);
  }
  function step(dk) { stop(); show(a.k + dk); }

  function rowNumber(strideId) {
    const row = document.querySelector('#strides-table tr[data-stride-id="' + strideId + '"]');
    return row ? row.firstElementChild.textContent.trim() : String(strideId);
  }
  function starState(strideId) {
    const btn = document.querySelector('#strides-table .star-btn[data-stride-id="' + strideId + '"]');
    return btn ? btn.getAttribute("aria-pressed") === "true" : false;
  }
  function markStar(strideId, starred) {
    document.querySelectorAll('.star-btn[data-stride-id="' + strideId + '"]').forEach(function (btn) {
      btn.setAttribute("aria-pressed", starred ? "true" : "false");
      btn.textContent = (starred ? "★" : "☆") + (btn.id === "replay-star" ? (starred ? " Starred" : " Star") : "");
    });
  }
  async function toggleStar(strideId) {
    const starred = !starState(strideId);
    try {
      const r = await window.hipcam.api("POST", "/api/sessions/" + id + "/strides/" + strideId + "/star", { starred: starred });
      markStar(strideId, r.starred);
      $("replay-note").textContent = r.starred ? (r.clip ? "Starred: its clip is kept." : "Starred (its clip was already pruned: the landmarks are kept).") : "Star removed.";
    } catch (e) { if (e.status === 401) window.hipcam.toLogin(); else $("replay-note").textContent = e.message; }
  }

  async function open(strideId, other) {
    stop();
    current = strideId;
    box.hidden = false;
    $("replay-note").textContent = "";
    document.querySelectorAll("#strides-table tr.replaying").forEach(function (r) { r.classList.remove("replaying"); });
    const row = document.querySelector('#strides-table tr[data-stride-id="' + strideId + '"]');
    if (row) row.classList.add("replaying");
    const star = $("replay-star");
    star.hidden = !loggedIn; star.dataset.strideId = String(strideId);
    try {
      await a.load(id, strideId, other ? other.labelA : "stride " + rowNumber(strideId));
      $("replay-b").hidden = !other; $("replay-panes").classList.toggle("two", !!other);
      if (other) await b.load(other.session, other.stride, other.labelB);
      $("replay-title").textContent = "· stride " + rowNumber(strideId) + (other ? " vs " + other.labelB : "");
      markStar(strideId, starState(strideId));
      show(0);
    } catch (e) { $("replay-note").textContent = e.status === 404 ? "Nothing stored to replay this stride (recorded before replay existed)." : e.message; }
    box.scrollIntoView({ block: "nearest" });
  }

  function compareButtons() {
    const bar = $("replay-compare");
    bar.replaceChildren();
    if (!overview) return;
    Object.keys(overview.picks).forEach(function (leg) {
      const p = overview.picks[leg];
      const add = function (text, fn) { const btn = document.createElement("button"); btn.type = "button"; btn.textContent = text; btn.addEventListener("click", fn); bar.append(btn); };
      if (p.best !== p.worst) {
        add("Best vs worst · " + leg, function () { open(p.best, { session: id, stride: p.worst, labelA: "best " + leg, labelB: "worst " + leg }); });
      }
      const base = overview.baseline && overview.baseline.picks[leg];
      if (base) {
        add("This session vs baseline · " + leg, function () {
          open(p.typical, { session: overview.baseline.session_id, stride: base.typical, labelA: "typical " + leg + ", this session",
            labelB: "typical " + leg + ", baseline session " + overview.baseline.session_id });
        });
      }
    });
  }

  document.querySelectorAll(".replay-btn").forEach(function (btn) {
    btn.addEventListener("click", function () { open(Number(btn.dataset.strideId)); });
  });
  document.querySelectorAll("#strides-table .star-btn").forEach(function (btn) {
    btn.addEventListener("click", function () { toggleStar(Number(btn.dataset.strideId)); });
  });
  $("replay-star").addEventListener("click", function () { if (current !== null) toggleStar(current); });
  $("replay-play").addEventListener("click", function (ev) { play(1, ev.currentTarget); });
  $("replay-slow").addEventListener("click", function (ev) { play(0.25, ev.currentTarget); });
  $("replay-prev").addEventListener("click", function () { step(-1); });
  $("replay-next").addEventListener("click", function () { step(1); });
  $("replay-close").addEventListener("click", function () { stop(); box.hidden = true; });
  document.addEventListener("keydown", function (ev) {
    if (box.hidden || /^(INPUT|TEXTAREA|SELECT)$/.test(ev.target.tagName)) return;
    if (ev.key === "ArrowLeft") { ev.preventDefault(); step(-1); }
    else if (ev.key === "ArrowRight") { ev.preventDefault(); step(1); }
    else if (ev.key === " " && ev.target.tagName !== "BUTTON") { ev.preventDefault(); play(playing ? playing.rate : 1, $("replay-play")); }
  });
  window.hipcam.api("GET", "/api/sessions/" + id + "/replay").then(function (o) { overview = o; compareButtons(); }).catch(function () { /* replay of single strides still works */ });
});
