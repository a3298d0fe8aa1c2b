"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("login-form");
  if (!form) return;
  const err = document.getElementById("login-error");
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    err.hidden = true;
    const pin = document.getElementById("pin").value;
    try {
      await window.hipcam.api("POST", "/api/login", { pin: pin });
      window.location.assign(form.dataset.next || "/");
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  });
});
