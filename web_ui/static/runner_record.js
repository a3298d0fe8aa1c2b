/* Runner records: create (/runners), edit and move sessions (/runners/{id}), the hip-extension trend. */
"use strict";
(function () {
  const $ = function (id) { return document.getElementById(id); };
  function showError(id, msg) { const e = $(id); if (e) { e.textContent = msg || ""; e.hidden = !msg; } }
  function failed(id, e) { if (e.status === 401) { window.hipcam.toLogin(); return; } showError(id, e.message); }
  function lengthValue(id) { const v = $(id).value.trim(); return v === "" ? null : v; }

  async function create(ev) {
    ev.preventDefault();
    showError("runners-error", "");
    try {
      const r = await window.hipcam.api("POST", "/api/runners",
        { name: $("new-name").value, height_cm: lengthValue("new-height"), leg_length_cm: lengthValue("new-leg") });
      window.location.assign("/runners/" + r.id);
    } catch (e) { failed("runners-error", e); }
  }

  async function save(ev) {
    ev.preventDefault();
    showError("runner-error", "");
    const id = $("runner-record").dataset.runnerId;
    try {
      await window.hipcam.api("PATCH", "/api/runners/" + id, { name: $("edit-name").value, height_cm: lengthValue("edit-height"),
        leg_length_cm: lengthValue("edit-leg"), notes: $("edit-notes").value });
      $("runner-saved").textContent = "Saved.";
      window.location.reload();
    } catch (e) { failed("runner-error", e); }
  }

  async function move(ev) {
    ev.preventDefault();
    showError("runner-error", "");
    const form = ev.target, to = Number(form.elements.runner_id.value);
    try {
      await window.hipcam.api("PATCH", "/api/sessions/" + form.dataset.sessionId, { runner_id: to });
      window.location.reload();
    } catch (e) { failed("runner-error", e); }
  }

  function drawTrend() {
    const canvas = $("trend"), data = $("trend-data");
    if (!canvas || !data || !window.hipcamPlot) return;
    const trend = JSON.parse(data.textContent), legs = window.hipcam.vocab.legs;
    let lo = Infinity, hi = -Infinity, count = 1;
    legs.forEach(function (leg) {
      (trend[leg] || []).forEach(function (p) {
        count = Math.max(count, p[0]);
        if (p[1] !== null) { lo = Math.min(lo, p[1] - p[2]); hi = Math.max(hi, p[1] + p[2]); }
      });
    });
    if (!Number.isFinite(lo)) { lo = -10; hi = 30; }
    const yMin = Math.floor((lo - 2) / 5) * 5, yMax = Math.ceil((hi + 2) / 5) * 5;
    const series = [];
    legs.forEach(function (leg, i) {
      const shift = (i - 0.5) * 0.06;  // the legs' whiskers side by side, not on top of each other
      const pts = (trend[leg] || []).filter(function (p) { return p[1] !== null; });
      const colour = window.hipcam.vocab.colours[leg];
      series.push({ points: pts.map(function (p) { return [p[0] + shift, p[1]]; }), color: colour, width: 2,
        whiskers: pts.map(function (p) { return [p[0] + shift, p[1] - p[2], p[1] + p[2]]; }) });
      series.push({ points: pts.map(function (p) { return [p[0] + shift, p[1]]; }), color: colour, dots: true });
    });
    window.hipcamPlot.draw(canvas, series, { xMin: 0.5, xMax: count + 0.5, yMin: yMin, yMax: yMax,
      yStep: yMax - yMin > 30 ? 10 : 5, xLabel: "session 1 … " + count, aspect: 0.3 });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if ($("runner-create")) $("runner-create").addEventListener("submit", create);
    if ($("runner-edit")) $("runner-edit").addEventListener("submit", save);
    document.querySelectorAll(".move-form").forEach(function (f) { f.addEventListener("submit", move); });
    drawTrend();
    window.addEventListener("resize", drawTrend);
  });
})();
