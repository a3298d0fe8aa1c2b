/* The walk-up check's card (docs/walkup.md) on the runner view and the live page: polls /api/walkup
   once a second and shows the progress of a check and its result card with the QR link. */
"use strict";
(function () {
  const POLL_MS = 1000;
  const $ = function (id) { return document.getElementById(id); };
  const num = function (v) { return v === null || v === undefined ? "–" : Number(v).toFixed(1); };

  function angle(name, a) {
    const p = document.createElement("p");
    p.className = "wu-angle";
    const b = document.createElement("b");
    b.textContent = num(a.value) + "°";
    p.append(name + " ", b, " — " + a.words + " (" + a.low + "–" + a.high + "°)");
    return p;
  }

  function leg(name, r) {
    const s = document.createElement("section");
    s.className = "wu-leg";
    s.dataset.leg = name;
    const h = document.createElement("h3");
    h.textContent = (name === "left" ? "Left" : "Right") + " leg: " + (r.class || "–");
    const w = document.createElement("p");
    w.textContent = r.words;
    s.append(h, w, angle("Hip extension", r.hip_extension), angle("Trunk lean", r.trunk_lean));
    return s;
  }

  let shownToken = null;
  function render(w) {
    const card = $("walkup-card");
    // The runner view also invites a member to start while idle; the live page shows only a check.
    const invite = w.enabled && w.phase === "idle" && document.body.classList.contains("runner");
    const active = invite || (w.enabled && w.phase !== "idle" && w.phase !== "off");
    card.hidden = !active;
    document.body.dataset.walkup = active ? w.phase : "";
    if (!active) { shownToken = null; return; }
    const result = w.phase === "result" && w.card;
    $("wu-result").hidden = !result;
    $("wu-progress").hidden = !!result;
    if (!result) {
      shownToken = null;
      $("wu-title").textContent = "Form check";
      $("wu-progress").textContent = invite ? "Start running: a form check starts by itself once you run steadily"
        : w.phase === "settling" ? "Keep running: the check starts in a moment"
        : "Checking… left " + w.progress.left + " / " + w.strides_per_leg + " · right " + w.progress.right + " / " + w.strides_per_leg;
      return;
    }
    if (shownToken === w.token) return;
    shownToken = w.token;
    $("wu-title").textContent = "Your form check";
    $("wu-class").textContent = w.card.class || "–";
    card.dataset.class = w.card.class || "";
    $("wu-words").textContent = w.card.words;
    $("wu-legs").replaceChildren(leg("left", w.card.legs.left), leg("right", w.card.legs.right));
    $("wu-cue").textContent = w.card.cue ? "“" + w.card.cue.text + "”" : "";
    $("wu-qr").src = "/walkup/" + encodeURIComponent(w.token) + "/qr.svg";
    $("wu-link").href = w.card_url || ("/walkup/" + encodeURIComponent(w.token));
  }

  async function poll() {
    try {
      const resp = await fetch("/api/walkup", { cache: "no-store" });
      if (resp.ok) render((await resp.json()).walkup);
    } catch (e) { /* offline for a moment: the next poll tries again */ }
    setTimeout(poll, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () { if ($("walkup-card")) poll(); });
})();
