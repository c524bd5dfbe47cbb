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

// Personal CLI tokens (GitHub sign-in): the new token is shown once, as the command that stores it.
const tokenForm = document.getElementById("cli-token-form");
const createToken = document.getElementById("cli-token-create");
if (tokenForm) {
  tokenForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    createToken.disabled = true;
    try {
      const label = document.getElementById("cli-token-label").value.trim();
      const expiresIn = document.getElementById("cli-token-expires").value;
      const made = await api("POST", "/api/v1/user/tokens", { ...(label === "" ? {} : { label }), expiresIn });
      const out = document.getElementById("cli-token-command");
      out.textContent = `dstack config --url ${out.dataset.publicUrl} --token ${made.token}`;
      document.getElementById("cli-token-new").hidden = false;
      const until = made.expiresAt === null ? "it does not expire" : `it expires ${made.expiresAt.slice(0, 16).replace("T", " ")} UTC`;
      say(status, `CLI token ${made.id} (${made.label}) created; ${until}. Copy it now: it is not shown again.`);
    } catch (err) {
      say(status, err.message);
    } finally {
      createToken.disabled = false;
    }
  });
}

for (const btn of document.querySelectorAll("[data-revoke]")) {
  btn.addEventListener("click", async () => {
    const id = btn.dataset.revoke;
    if (!window.confirm(`Revoke the CLI token ${id}? The CLI that uses it stops working.`)) return;
    try {
      await api("DELETE", `/api/v1/user/tokens/${encodeURIComponent(id)}`);
      window.location.reload();
    } catch (err) {
      say(status, err.message);
    }
  });
}
