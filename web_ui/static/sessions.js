/* Sessions list: delete a stopped session (PIN + confirm). */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const err = document.getElementById("sessions-error");
  document.querySelectorAll(".delete-session").forEach(function (btn) {
    btn.addEventListener("click", async function () {
      const id = btn.dataset.sessionId;
      if (!window.confirm("Delete session " + id + " and its strides?")) return;
      try {
        await window.hipcam.api("DELETE", "/api/sessions/" + id);
        btn.closest("tr").remove();
      } catch (e) {
        if (e.status === 401) { window.hipcam.toLogin(); return; }
        err.textContent = e.message;
        err.hidden = false;
      }
    });
  });
});
