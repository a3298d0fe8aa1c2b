/* hipcam hub: class colours from the vocabulary; the treadmills page polls /api/devices. No other
   script, no external asset (the page's CSP allows only this origin). */
"use strict";
(function () {
  const classes = JSON.parse(document.getElementById("hipcam-classes").textContent);
  Object.keys(classes).forEach(function (c) {
    document.documentElement.style.setProperty("--" + c, classes[c].colour);
  });

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function num(v, digits) {
    return (typeof v === "number" && isFinite(v)) ? v.toFixed(digits) : "–";
  }
  function ago(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) { return "never"; }
    const s = Math.max(0, Math.round(seconds));
    if (s < 5) { return "just now"; }
    if (s < 120) { return s + " s ago"; }
    if (s < 7200) { return Math.round(s / 60) + " min ago"; }
    if (s < 172800) { return Math.round(s / 3600) + " h ago"; }
    return Math.round(s / 86400) + " days ago";
  }
  function availability(d) {
    if (d.online === true) { return ["online", "online"]; }
    if (d.online === false) { return ["offline", "offline"]; }
    return ["unknown", "not seen yet"];
  }
  function metric(label, value, unit) {
    const box = el("div", "metric");
    box.appendChild(el("span", "label", label));
    const v = el("span", "value", value);
    box.appendChild(v);
    if (unit) { box.appendChild(el("span", "unit", unit)); }
    return box;
  }
  function classChip(d) {
    const c = classes[d.current_class] ? d.current_class : (d.current_class ? "unknown" : null);
    const chip = el("span", "chip big cls-" + (c || "none"), c ? classes[c].symbol : "–");
    chip.title = c ? classes[c].name : "no stride yet";
    return chip;
  }
  function card(d, now) {
    const state = availability(d);
    const art = el("article", "device " + state[0]);
    art.dataset.device = d.id;
    const head = el("header");
    head.appendChild(el("h2", "device-name", d.name || d.id));
    head.appendChild(el("span", "availability", state[1]));
    art.appendChild(head);
    const line = el("p", "device-status");
    line.appendChild(el("span", "status-text", (d.online === false ? "last status: " : "") + (d.status || "no status yet")));
    if (d.session_active === true) { line.appendChild(el("span", "session-badge", "session running")); }
    art.appendChild(line);
    const row = el("div", "device-body");
    row.appendChild(classChip(d));
    const metrics = el("div", "device-metrics");
    metrics.appendChild(metric("Hip extension", num(d.hip_extension_deg, 1), "°"));
    metrics.appendChild(metric("Cadence", num(d.cadence_spm, 0), "/min"));
    metrics.appendChild(metric("FPS", num(d.fps, 1)));
    row.appendChild(metrics);
    art.appendChild(row);
    const foot = el("footer", "device-foot");
    foot.appendChild(el("span", "last-seen muted", "last seen " + ago(d.last_seen === null ? null : now - d.last_seen)));
    if (typeof d.url === "string" && /^https?:\/\//.test(d.url)) {
      const link = el("a", "open", "Open page →");
      link.href = d.url;
      link.rel = "noopener noreferrer";
      foot.appendChild(link);
    }
    art.appendChild(foot);
    art.classList.toggle("session", d.session_active === true);
    return art;
  }
  function render(data) {
    const box = document.getElementById("devices");
    const list = Array.isArray(data.devices) ? data.devices : [];
    const cards = list.map(function (d) { return card(d, data.now); });
    if (!cards.length) {
      cards.push(el("p", "muted", "No treadmill has reported yet. Devices appear here once they publish to the broker, or when listed under [hub] devices."));
    }
    box.replaceChildren.apply(box, cards);
    const banner = document.getElementById("broker-banner");
    banner.hidden = !!(data.broker && data.broker.connected);
    const online = list.filter(function (d) { return d.online === true; }).length;
    document.getElementById("updated").textContent = online + " of " + list.length + " online · " + new Date().toLocaleTimeString();
    document.title = online + "/" + list.length + " online · hipcam hub";
  }
  async function poll(every) {
    try {
      const resp = await fetch("/api/devices", { cache: "no-store", credentials: "same-origin" });
      if (!resp.ok) { throw new Error("HTTP " + resp.status); }
      render(await resp.json());
      document.body.classList.remove("stale");
    } catch (e) {
      document.body.classList.add("stale");
      document.getElementById("updated").textContent = "the hub is not answering (" + e.message + "); retrying";
    }
    window.setTimeout(function () { poll(every); }, every);
  }
  document.addEventListener("DOMContentLoaded", function () {
    const box = document.getElementById("devices");
    if (!box) { return; }
    render(JSON.parse(document.getElementById("initial-devices").textContent));
    const every = parseInt(box.dataset.pollMs, 10) || 2000;
    window.setTimeout(function () { poll(every); }, every);
  });
})();
