/* The pose over a camera frame or a snapshot, and the hip calibration on a paused frame:
   tap the greater trochanter, see the cross, Confirm or Cancel. Shared by the live and session pages. */
"use strict";
(function () {
  const V = window.hipcam.vocab;  // landmarks, skeleton, legs and colours, from hipcam.domain
  const J = V.leg_joints;
  const HIP_RING = "#ffffff";

  function line(ctx, a, b, color, width) {
    ctx.strokeStyle = color; ctx.lineWidth = width; ctx.lineCap = "round";
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
  }

  function nearLeg(lm, near) {
    if (near && J[near]) return near;
    const l = lm[J.left.hip], r = lm[J.right.hip];  // no near leg reported yet: the more visible hip
    return (l && r && r[2] > l[2]) ? "right" : "left";
  }

  /* The skeleton, the thigh lines and the trunk line (what the angles come from). opts: {near,
     calibrated: the hips are the runner's calibrated ones, rawHips: [[x, y] left, right] BlazePose's own} */
  function drawPose(ctx, W, H, lm, opts) {
    if (!lm) return;
    opts = opts || {};
    const P = function (i) { return [lm[i][0] * W, lm[i][1] * H]; };
    const vis = function (i) { return lm[i] && lm[i][2] >= 0.3; };
    const s = Math.max(1, W / 640);  // line widths were chosen for the 640 px camera view
    V.edges.forEach(function (e) { if (vis(e[0]) && vis(e[1])) line(ctx, P(e[0]), P(e[1]), V.colours.skeleton, 2 * s); });
    const mid = function (a, b) { const p = P(a), q = P(b); return [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2]; };
    V.legs.forEach(function (leg) {
      const hip = J[leg].hip, knee = J[leg].knee;
      if (vis(hip) && vis(knee)) line(ctx, P(hip), P(knee), V.colours.thigh, (opts.near === leg || !opts.near ? 7 : 3) * s);
    });
    const ls = J.left.shoulder, rs = J.right.shoulder, lh = J.left.hip, rh = J.right.hip;
    if (vis(ls) && vis(rs) && vis(lh) && vis(rh)) line(ctx, mid(lh, rh), mid(ls, rs), V.colours.trunk, 6 * s);
    if (opts.calibrated) drawCalibratedHip(ctx, W, H, lm, opts, s);
  }

  function drawCalibratedHip(ctx, W, H, lm, opts, s) {
    const leg = nearLeg(lm, opts.near), i = J[leg].hip;
    const p = [lm[i][0] * W, lm[i][1] * H];
    const raw = opts.rawHips ? opts.rawHips[V.legs.indexOf(leg)] : null;
    if (raw) {  // where BlazePose put it: a small hollow dot joined to the point in use
      const q = [raw[0] * W, raw[1] * H];
      ctx.setLineDash([4 * s, 4 * s]); line(ctx, q, p, HIP_RING, 1.5 * s); ctx.setLineDash([]);
      ctx.strokeStyle = V.colours.skeleton; ctx.lineWidth = 2 * s;
      ctx.beginPath(); ctx.arc(q[0], q[1], 4 * s, 0, 2 * Math.PI); ctx.stroke();
    }
    ctx.fillStyle = V.colours.thigh; ctx.strokeStyle = HIP_RING; ctx.lineWidth = 3 * s;
    ctx.beginPath(); ctx.arc(p[0], p[1], 8 * s, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    const text = "hip (calibrated)";
    ctx.font = "600 " + Math.round(14 * s) + "px system-ui, sans-serif";
    const w = ctx.measureText(text).width, x = p[0] + 14 * s, y = p[1] - 12 * s;
    ctx.fillStyle = "rgba(5,8,11,0.75)"; ctx.fillRect(x - 4 * s, y - 14 * s, w + 8 * s, 19 * s);
    ctx.fillStyle = HIP_RING; ctx.fillText(text, x, y);
  }

  function trunkPx(lm, W, H) {  // hip midpoint -> shoulder midpoint, the calibration's unit
    const m = function (a, b, k, s) { return (lm[a][k] + lm[b][k]) / 2 * s; };
    return Math.hypot(m(J.left.shoulder, J.right.shoulder, 0, W) - m(J.left.hip, J.right.hip, 0, W),
      m(J.left.shoulder, J.right.shoulder, 1, H) - m(J.left.hip, J.right.hip, 1, H));
  }

  function drawCross(ctx, x, y, scale) {
    const r = 14 * scale;
    line(ctx, [x - r, y], [x + r, y], "#000", 6 * scale); line(ctx, [x, y - r], [x, y + r], "#000", 6 * scale);
    line(ctx, [x - r, y], [x + r, y], HIP_RING, 3 * scale); line(ctx, [x, y - r], [x, y + r], HIP_RING, 3 * scale);
  }

  /* A paused frame to calibrate on. opts: {canvas, image (bitmap or <img>), landmarks, near, hint,
     confirm, cancel (buttons), status, save(tap) -> Promise of a message, done()} */
  function Session(opts) {
    const c = opts.canvas, ctx = c.getContext("2d");
    const img = opts.image, W = img.naturalWidth || img.width, H = img.naturalHeight || img.height;
    let tap = null;
    c.width = W; c.height = H;
    const near = nearLeg(opts.landmarks, opts.near), hip = opts.landmarks[J[near].hip];
    c.dataset.nearHipX = (hip[0] * W).toFixed(1); c.dataset.nearHipY = (hip[1] * H).toFixed(1);
    c.dataset.trunkPx = trunkPx(opts.landmarks, W, H).toFixed(1);
    function draw() {
      ctx.drawImage(img, 0, 0, W, H);
      drawPose(ctx, W, H, opts.landmarks, { near: near });
      if (tap) drawCross(ctx, tap[0], tap[1], Math.max(1, W / 640));
    }
    function onTap(ev) {
      const r = c.getBoundingClientRect();
      tap = [(ev.clientX - r.left) * W / r.width, (ev.clientY - r.top) * H / r.height];
      c.dataset.tap = tap[0].toFixed(1) + "," + tap[1].toFixed(1);
      opts.confirm.disabled = false;
      opts.status.textContent = "Confirm, or tap again to move the cross";
      draw();
    }
    async function onConfirm() {
      if (!tap) return;
      opts.confirm.disabled = true;
      try { opts.status.textContent = await opts.save([Math.round(tap[0] * 10) / 10, Math.round(tap[1] * 10) / 10]); stop(); }
      catch (e) { opts.status.textContent = e.message; opts.confirm.disabled = false; }
    }
    function stop() {
      c.removeEventListener("click", onTap); opts.confirm.removeEventListener("click", onConfirm);
      opts.cancel.removeEventListener("click", onCancel); c.classList.remove("calibrating");
      opts.done();
    }
    function onCancel() { opts.status.textContent = ""; stop(); }
    c.addEventListener("click", onTap); opts.confirm.addEventListener("click", onConfirm);
    opts.cancel.addEventListener("click", onCancel);
    c.classList.add("calibrating");
    opts.confirm.disabled = true;
    opts.status.textContent = opts.hint || "Tap the greater trochanter (or the marker on it)";
    draw();
    return { stop: stop };
  }

  function describe(cal) {
    const f = function (v, pos, neg) { return Math.abs(v).toFixed(2) + " " + (v >= 0 ? pos : neg); };
    return "hip " + f(cal.forward, "forward", "back") + ", " + f(cal.up, "up", "down") + " of BlazePose's (trunk lengths)";
  }

  window.hipcamCal = { drawPose: drawPose, start: Session, describe: describe };
})();
