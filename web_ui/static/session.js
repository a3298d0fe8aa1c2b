/* Session page: hip-extension chart, notes, print, delete. */
"use strict";
document.addEventListener("DOMContentLoaded", async function () {
  const report = document.getElementById("report");
  if (!report) return;
  const id = report.dataset.sessionId;
  const canvas = document.getElementById("ext-plot");
  const light = window.matchMedia && window.matchMedia("print").matches;
  async function drawChart() {
    const data = await window.hipcam.api("GET", "/api/sessions/" + id + "/strides");
    const rows = data.strides.filter(function (s) { return s.hip_extension_deg !== null; });
    const t = function (s) { return s.t_end !== null ? s.t_end : s.recorded_at; };
    const xs = rows.map(t), ys = rows.map(function (s) { return s.hip_extension_deg; });
    const yMin = Math.min(-5, Math.floor((Math.min.apply(null, ys.concat([0])) - 2) / 5) * 5);
    const yMax = Math.max(15, Math.ceil((Math.max.apply(null, ys.concat([0])) + 2) / 5) * 5);
    const V = window.hipcam.vocab;  // legs and their colours, from hipcam.domain
    const series = V.legs.map(function (leg) {
      return { color: V.colours[leg], width: 2, dots: false,
        points: rows.filter(function (s) { return s.leg === leg; }).map(function (s) { return [t(s), s.hip_extension_deg]; }) };
    });
    series.push.apply(series, series.map(function (s) { return { color: s.color, dots: true, points: s.points }; }));
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
  const del = document.getElementById("delete-btn");
  if (del) {
    del.addEventListener("click", async function () {
      if (!window.confirm("Delete session " + id + " and its strides?")) return;
      try { await window.hipcam.api("DELETE", "/api/sessions/" + id); window.location.assign("/sessions"); }
      catch (e) { window.alert(e.message); }
    });
  }
});
