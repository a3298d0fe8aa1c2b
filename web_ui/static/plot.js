/* Minimal canvas line plots (no library). */
"use strict";
window.hipcamPlot = {
  /* series: [{points: [[x, y], ...], color, width, dots, rings, alpha, whiskers: [[x, lo, hi], ...]}],
     opts: {xMin, xMax, yMin, yMax, yStep, xLabel} */
  draw: function (canvas, series, opts) {
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || canvas.width, cssH = Math.round(cssW * (opts.aspect || 0.34));
    if (canvas.width !== Math.round(cssW * dpr)) { canvas.width = Math.round(cssW * dpr); canvas.height = Math.round(cssH * dpr); }
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, pad = { l: 44 * dpr, r: 10 * dpr, t: 10 * dpr, b: 22 * dpr };
    ctx.fillStyle = opts.background || "#05080b"; ctx.fillRect(0, 0, W, H);
    const xMin = opts.xMin, xMax = opts.xMax > opts.xMin ? opts.xMax : opts.xMin + 1;
    const yMin = opts.yMin, yMax = opts.yMax;
    const X = function (x) { return pad.l + (x - xMin) / (xMax - xMin) * (W - pad.l - pad.r); };
    const Y = function (y) { return H - pad.b - (y - yMin) / (yMax - yMin) * (H - pad.t - pad.b); };
    ctx.font = (12 * dpr) + "px system-ui, sans-serif"; ctx.fillStyle = opts.axis || "#93a1b0";
    ctx.strokeStyle = opts.grid || "#26313c"; ctx.lineWidth = 1 * dpr;
    for (let y = Math.ceil(yMin / opts.yStep) * opts.yStep; y <= yMax; y += opts.yStep) {
      ctx.beginPath(); ctx.moveTo(pad.l, Y(y)); ctx.lineTo(W - pad.r, Y(y)); ctx.stroke();
      ctx.fillText(y + "°", 4 * dpr, Y(y) + 4 * dpr);
    }
    if (yMin < 0 && yMax > 0) { ctx.strokeStyle = opts.zero || "#4b5a69"; ctx.beginPath(); ctx.moveTo(pad.l, Y(0)); ctx.lineTo(W - pad.r, Y(0)); ctx.stroke(); }
    if (opts.xLabel) ctx.fillText(opts.xLabel, W - pad.r - ctx.measureText(opts.xLabel).width, H - 5 * dpr);
    const clampY = function (y) { return Y(Math.max(yMin, Math.min(yMax, y))); };
    series.forEach(function (s) {
      ctx.globalAlpha = s.alpha || 1;
      ctx.strokeStyle = s.color; ctx.fillStyle = s.color; ctx.lineWidth = (s.width || 2.5) * dpr; ctx.lineJoin = "round";
      (s.whiskers || []).forEach(function (w) {  // error bars, drawn under the line
        const px = X(w[0]), cap = 3 * dpr;
        ctx.beginPath(); ctx.moveTo(px, clampY(w[1])); ctx.lineTo(px, clampY(w[2]));
        ctx.moveTo(px - cap, clampY(w[1])); ctx.lineTo(px + cap, clampY(w[1]));
        ctx.moveTo(px - cap, clampY(w[2])); ctx.lineTo(px + cap, clampY(w[2])); ctx.stroke();
      });
      let open = false; ctx.beginPath();
      s.points.forEach(function (p) {
        if (p[1] === null || p[1] === undefined) { open = false; return; }
        const px = X(p[0]), py = Y(Math.max(yMin, Math.min(yMax, p[1])));
        if (s.dots || s.rings) { ctx.moveTo(px + 4 * dpr, py); ctx.arc(px, py, 4 * dpr, 0, 2 * Math.PI); return; }
        if (open) ctx.lineTo(px, py); else { ctx.moveTo(px, py); open = true; }
      });
      if (s.dots) ctx.fill(); else { if (s.rings) ctx.lineWidth = 1.5 * dpr; ctx.stroke(); }
      ctx.globalAlpha = 1;
    });
  }
};
