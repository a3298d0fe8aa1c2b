/* Session page: hip extension at toe-off chart (± uncertainty, the peak as secondary), the runner
   feedback's results (per block, retention), notes, print, delete, hip calibration on a stride's
   snapshot (calibrate.js: on the plain snapshot; the page shows the overlaid key frame). The stride
   replay and stars: replay.js. */
"use strict";

/* The runner feedback's results: one card per run (target, schedule, blocks, retention), from the
   session's JSON; plain tables, so the A4 report prints them like the strides. */
const hipcamFeedbackRuns = (function () {
  const fmt = window.hipcam.fmt;
  const pct = function (v) { return v === null || v === undefined ? "–" : fmt(100 * v, 0) + " %"; };
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function targetLabel(t) {
    if (t.label) return t.label;
    if (t.kind === "pattern_b") return "Hip extension ≥ " + t.min_hip_extension_deg + "° at toe-off with trunk lean ≤ " + t.max_trunk_lean_deg + "°";
    if (t.kind === "cadence") return "Cadence " + t.cadence_spm + " ± " + t.tolerance_spm + " steps/min";
    return { not_c: "Not C (no leaning forward)", not_d: "Not D (no arching the back)" }[t.kind] || t.kind;
  }
  function scheduleText(plan) {
    const s = plan.schedule;
    const kind = { continuous: "Continuous", bandwidth: "Bandwidth (misses cued)",
      faded: "Faded " + (s.fade || []).map(function (f) { return Math.round(100 * f); }).join(" / ") + " %" }[s.kind] || s.kind;
    return kind + " · " + s.blocks + " blocks of " + fmt(s.block_s, 0) + " s" + (s.probes ? " · retention blocks before and after" : "") +
      " · sound: " + plan.audio + (plan.metronome ? " · metronome" : "") + (plan.show_values ? " · values shown" : "");
  }
  function blockKind(b) { return b.probe ? "retention (" + b.probe + ")" : (b.feedback ? "on" : "off"); }
  const COLUMNS = [["Strides", function (b) { return b.strides; }], ["Hit rate", function (b) { return pct(b.hit_rate); }],
    ["Hip ext at toe-off °", function (b) { return fmt(b.mean_hip_extension_deg, 1); }],
    ["Trunk lean at toe-off °", function (b) { return fmt(b.mean_trunk_lean_deg, 1); }], ["Cadence spm", function (b) { return fmt(b.mean_cadence_spm, 0); }]];
  function table(head, rows) {
    const t = el("table", null, "table feedback-table");
    const tr = el("tr");
    head.concat(COLUMNS.map(function (c) { return c[0]; })).forEach(function (h) { tr.append(el("th", h)); });
    t.append(el("thead"), el("tbody"));
    t.tHead.append(tr);
    rows.forEach(function (r) {
      const row = el("tr");
      r.cells.concat(COLUMNS.map(function (c) { return c[1](r.block); })).forEach(function (v) { row.append(el("td", v === undefined || v === null ? "–" : String(v))); });
      if (r.cls) row.className = r.cls;
      t.tBodies[0].append(row);
    });
    return t;
  }
  function retention(r) {
    if (!r || (!r.pre && !r.post && !r.baseline)) return null;
    const rows = [["Before (no feedback)", r.pre], ["After (no feedback)", r.post]]
      .filter(function (x) { return x[1]; }).map(function (x) { return { cells: [x[0]], block: x[1] }; });
    if (r.baseline) rows.push({ cells: ["Baseline (session " + r.baseline.session_id + ", no feedback)"], block: r.baseline });
    const box = el("div", null, "retention");
    box.append(el("h3", "Retention"), table([""], rows));
    if (r.pre && r.post && r.pre.hit_rate !== null && r.post.hit_rate !== null) {
      const d = Math.round(100 * (r.post.hit_rate - r.pre.hit_rate));
      const change = d === 0 ? "the same" : Math.abs(d) + " points " + (d > 0 ? "higher" : "lower");
      box.append(el("p", "Without feedback, the hit rate after the training blocks was " + change + " than before them.", "muted small"));
    }
    return box;
  }
  function runCard(run, n) {
    const card = el("section", null, "card feedback-run");
    card.append(el("h2", "Feedback" + (n ? " " + n : "") + ": " + targetLabel(run.plan.target)));
    card.append(el("p", scheduleText(run.plan), "muted"));
    const blocks = run.blocks || [];
    card.append(el("p", fmt(run.feedback_minutes, 1) + " min with feedback · " + blocks.length + (blocks.length === 1 ? " block" : " blocks") +
      (run.ended_at === null || run.ended_at === undefined ? " · running" : ""), "muted small"));
    card.append(table(["Block", "Feedback"], blocks.map(function (b) {
      return { cells: [b.index + 1, blockKind(b)], block: b, cls: b.feedback ? "fb-on" : "fb-off" };
    })));
    const ret = retention(run.retention);
    if (ret) card.append(ret);
    return card;
  }
  return async function feedbackRuns(id) {
    const data = await window.hipcam.api("GET", "/api/sessions/" + id);
    const runs = data.feedback || (data.session && data.session.feedback) || [];
    const box = document.getElementById("feedback-runs");
    box.replaceChildren.apply(box, runs.map(function (run, i) { return runCard(run, runs.length > 1 ? i + 1 : null); }));
    box.hidden = !runs.length;
  };
})();

document.addEventListener("DOMContentLoaded", async function () {
  const report = document.getElementById("report");
  if (!report) return;
  const id = report.dataset.sessionId;
  const canvas = document.getElementById("ext-plot");
  const light = window.matchMedia && window.matchMedia("print").matches;
  async function drawChart() {
    const data = await window.hipcam.api("GET", "/api/sessions/" + id + "/strides");
    const at = function (s) { return s.hip_extension_at_toe_off_deg; };
    const rows = data.strides.filter(function (s) { return at(s) !== null || s.hip_extension_deg !== null; });
    const t = function (s) { return s.t_end !== null ? s.t_end : s.recorded_at; };
    const unc = function (s) { return s.hip_extension_uncertainty_deg || 0; };
    const xs = rows.map(t);
    const ys = [0].concat(rows.map(function (s) { return at(s) === null ? s.hip_extension_deg : at(s) + unc(s); }),
      rows.map(function (s) { return at(s) === null ? s.hip_extension_deg : at(s) - unc(s); }),
      rows.map(function (s) { return s.hip_extension_deg === null ? 0 : s.hip_extension_deg; }));
    const yMin = Math.min(-5, Math.floor((Math.min.apply(null, ys) - 2) / 5) * 5);
    const yMax = Math.max(15, Math.ceil((Math.max.apply(null, ys) + 2) / 5) * 5);
    const V = window.hipcam.vocab;  // legs and their colours, from hipcam.domain
    const series = [];
    V.legs.forEach(function (leg) {
      const mine = rows.filter(function (s) { return s.leg === leg; });
      const main = mine.filter(function (s) { return at(s) !== null; });
      const pts = main.map(function (s) { return [t(s), at(s)]; });
      // The stride's peak: secondary, small rings; the toe-off value (the clinical measure) with its ± bars.
      series.push({ color: V.colours[leg], rings: true, alpha: 0.55, points: mine.map(function (s) { return [t(s), s.hip_extension_deg]; }) });
      series.push({ color: V.colours[leg], width: 2, points: pts,
        whiskers: main.map(function (s) { return [t(s), at(s) - unc(s), at(s) + unc(s)]; }) });
      series.push({ color: V.colours[leg], dots: true, points: pts });
    });
    window.hipcamPlot.draw(canvas, series, { xMin: xs.length ? Math.min.apply(null, xs) : 0, xMax: xs.length ? Math.max.apply(null, xs) : 1,
      yMin: yMin, yMax: yMax, yStep: yMax - yMin > 40 ? 10 : 5, xLabel: "time (s)", aspect: 0.25,
      background: light ? "#fff" : undefined, grid: light ? "#ddd" : undefined, axis: light ? "#333" : undefined });
  }
  try { await drawChart(); } catch (e) { /* chart is optional; the table has the numbers */ }
  try { await hipcamFeedbackRuns(id); } catch (e) { /* the strides and their classes stand without it */ }
  window.addEventListener("beforeprint", function () { canvas.dataset.print = "1"; });
  document.getElementById("print-btn").addEventListener("click", function () { window.print(); });
  const notesForm = document.getElementById("notes-form");
  if (notesForm) {
    notesForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const status = document.getElementById("notes-status");
      try {
        await window.hipcam.api("PATCH", "/api/sessions/" + id, { notes: document.getElementById("notes").value });
        status.textContent = "Saved";
      } catch (e) { status.textContent = e.message; }
    });
  }
  document.querySelectorAll(".cal-snap-btn").forEach(function (btn) { btn.addEventListener("click", calibrateSnapshot); });
  async function calibrateSnapshot(ev) {
    const btn = ev.currentTarget, sid = btn.dataset.strideId, runner = report.dataset.runner;
    const $ = function (p) { return document.getElementById(p + sid); };
    const img = $("snap-"), c = $("snap-canvas-"), status = $("snap-status-");
    let pose;
    try { pose = await window.hipcam.api("GET", "/api/sessions/" + id + "/strides/" + sid + "/snapshot.json"); }
    catch (e) { status.textContent = e.status === 404 ? "This snapshot was saved without its landmarks: calibrate on a newer stride or on the live page." : e.message; return; }
    const plain = new Image();  // the plain snapshot: the tap is measured on the frame the pose is of
    plain.src = "/api/sessions/" + id + "/strides/" + sid + "/snapshot.jpg";
    try { await plain.decode(); } catch (e) { status.textContent = "The snapshot could not be loaded."; return; }
    const show = function (cal) { img.hidden = cal; c.hidden = !cal; btn.hidden = cal; $("snap-confirm-").hidden = !cal; $("snap-cancel-").hidden = !cal; };
    show(true);
    window.hipcamCal.start({
      canvas: c, image: plain, landmarks: pose.landmarks.map(function (p) { return [p[0], p[1], p[3]]; }), near: pose.near_leg,
      hint: "Tap " + runner + "'s greater trochanter (or the marker on it)",
      confirm: $("snap-confirm-"), cancel: $("snap-cancel-"), status: status,
      save: async function (tap) {
        const d = await window.hipcam.api("PUT", "/api/calibration", { runner: runner, tap: tap, frame: { kind: "stride", session_id: Number(id), stride_id: Number(sid) } });
        return "Saved for " + runner + ": " + window.hipcamCal.describe(d.calibration) + ". It applies to frames analysed from now on (live and later sessions); strides already recorded keep their values.";
      },
      done: function () { show(false); }
    });
  }
  const del = document.getElementById("delete-btn");
  if (del) {
    del.addEventListener("click", async function () {
      if (!window.confirm("Delete session " + id + " and its strides?")) return;
      try { await window.hipcam.api("DELETE", "/api/sessions/" + id); window.location.assign("/sessions"); }
      catch (e) { window.alert(e.message); }
    });
  }
});
