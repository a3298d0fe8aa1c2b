/* Settings page: the logins the device holds, and "log out everywhere". */
"use strict";
(function () {
  const list = document.getElementById("logins-list");
  const button = document.getElementById("logout-everywhere");
  const err = document.getElementById("logins-error");
  if (!list || !button) { return; }
  function show(message) { err.textContent = message; err.hidden = !message; }
  // "Chrome on iPad" from a User-Agent: enough to tell the clinic's tablets apart.
  function browser(agent) {
    const names = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"]];
    const places = [["iPad", "iPad"], ["iPhone", "iPhone"], ["Android", "Android"], ["Windows", "Windows"],
      ["Mac OS", "Mac"], ["Linux", "Linux"]];
    const name = names.find(function (n) { return agent.indexOf(n[0]) >= 0; });
    const place = places.find(function (p) { return agent.indexOf(p[0]) >= 0; });
    if (!name && !place) { return agent ? agent.slice(0, 40) : "unknown browser"; }
    return (name ? name[1] : "a browser") + (place ? " on " + place[1] : "");
  }
  async function load() {
    try {
      const data = await window.hipcam.api("GET", "/api/logins");
      list.replaceChildren();
      data.logins.forEach(function (login) {
        const item = document.createElement("li");
        const since = new Date(login.since * 1000).toLocaleString();
        item.textContent = browser(login.agent) + " at " + login.address + ", since " + since;
        list.appendChild(item);
      });
      show("");
    } catch (e) { show(e.message); }
  }
  button.addEventListener("click", async function () {
    if (!window.confirm("Log out every tablet and browser, this one too?")) { return; }
    try {
      await window.hipcam.api("POST", "/api/logout-everywhere");
      window.hipcam.toLogin();
    } catch (e) { show(e.message); }
  });
  load();
})();
