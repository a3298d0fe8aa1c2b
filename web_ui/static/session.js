/* Session page: hip extension at toe-off chart (± uncertainty, the peak as secondary), notes, print,
   delete, hip calibration on a stride's snapshot (calibrate.js). */
"use strict";
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
    const show = function (cal) { img.hidden = cal; c.hidden = !cal; btn.hidden = cal; $("snap-confirm-").hidden = !cal; $("snap-cancel-").hidden = !cal; };
    show(true);
    window.hipcamCal.start({
      canvas: c, image: img, landmarks: pose.landmarks.map(function (p) { return [p[0], p[1], p[3]]; }), near: pose.near_leg,
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
