/* global document, window */
import { api, say } from "./api.js";

const base = document.getElementById("main").dataset.apiBase;
const status = document.getElementById("settings-status");
const form = document.getElementById("secret-form");

if (form) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = document.getElementById("secret-name").value.trim();
    const valueEl = document.getElementById("secret-value");
    try {
      await api("PUT", `${base}/${encodeURIComponent(name)}`, { value: valueEl.value });
      // The value is write-only: clear it from the page before anything else.
      valueEl.value = "";
      window.location.reload();
    } catch (err) {
      say(status, err.message);
    }
  });
}

for (const btn of document.querySelectorAll("[data-delete]")) {
  btn.addEventListener("click", async () => {
    const name = btn.dataset.delete;
    if (!window.confirm(`Delete the secret ${name}? Runs will no longer get it.`)) return;
    try {
      await api("DELETE", `${base}/${encodeURIComponent(name)}`);
      window.location.reload();
    } catch (err) {
      say(status, err.message);
    }
  });
}
