/* Shared helpers: JSON requests with the CSRF token, the lock (logout) button. */
"use strict";
(function () {
  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  async function api(method, url, body) {
    const opts = { method: method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(url, opts);
    let data = null;
    if (resp.status !== 204) {
      try { data = await resp.json(); } catch (e) { data = null; }
    }
    if (!resp.ok) {
      const err = new Error((data && data.error) || ("request failed (" + resp.status + ")"));
      err.status = resp.status;
      throw err;
    }
    return data;
  }
  function fmt(v, digits) {
    return (v === null || v === undefined || Number.isNaN(v)) ? "–" : Number(v).toFixed(digits === undefined ? 1 : digits);
  }
  // hipcam.domain's vocabulary (classes, legs, landmarks, skeleton, colours), injected by the base template.
  const vocab = JSON.parse(document.getElementById("hipcam-vocabulary").textContent);
  const root = document.documentElement.style;
  Object.keys(vocab.classes).forEach(function (c) { root.setProperty("--" + c, vocab.classes[c].colour); });
  root.setProperty("--thigh", vocab.colours.thigh);
  root.setProperty("--trunk", vocab.colours.trunk);
  vocab.legs.forEach(function (leg) { root.setProperty("--" + leg, vocab.colours[leg]); });
  // To the PIN page, then back here (a 401 from an acting request, or acting while locked).
  function toLogin() { window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname)); }
  window.hipcam = { api: api, csrf: csrf, fmt: fmt, vocab: vocab, toLogin: toLogin };
  document.addEventListener("DOMContentLoaded", function () {
    const out = document.getElementById("logout-btn");
    if (out) {
      out.addEventListener("click", async function () {
        try { await api("POST", "/api/logout"); } finally { window.location.reload(); }
      });
    }
  });
})();
