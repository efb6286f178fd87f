// The API key: the dialog that asks for it, the top bar's key button, and connecting with
// a key (kept in localStorage, or in sessionStorage when it is not to be remembered).

import { ApiError } from "./api.js";
import { h, icon, clear, $, toast } from "./dom.js";

const KEY_STORAGE = "editserve.key";

export class KeyDialog {
  constructor(app) {
    this.app = app;
  }

  init() {
    const dialog = $("#key-dialog");
    $("#key-button").addEventListener("click", () => this.open());
    $("#key-cancel").addEventListener("click", () => dialog.close());
    $("#key-forget").addEventListener("click", () => {
      localStorage.removeItem(KEY_STORAGE);
      sessionStorage.removeItem(KEY_STORAGE);
      this.app.api.setKey(null);
      this.app.stream.stop();
      $("#key-input").value = "";
      this.updateButton();
      toast("Key forgotten on this browser");
    });
    $("#key-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const value = $("#key-input").value.trim();
      if (!value) {
        $("#key-error").textContent = "Paste a key first";
        return;
      }
      $("#key-save").disabled = true;
      const ok = await this.connect(value, { remember: $("#key-remember").checked });
      $("#key-save").disabled = false;
      if (ok) dialog.close();
    });
  }

  /** Connect with the key this browser kept, or ask for one. */
  restore() {
    const key = localStorage.getItem(KEY_STORAGE) || sessionStorage.getItem(KEY_STORAGE);
    if (key) this.connect(key, { remember: !!localStorage.getItem(KEY_STORAGE), fromStorage: true });
    else this.open();
  }

  open(message = "") {
    const dialog = $("#key-dialog");
    $("#key-error").textContent = message;
    $("#key-input").value = "";
    $("#key-forget").hidden = !this.app.api.key;
    $("#key-cancel").hidden = !this.app.api.key;
    if (!dialog.open) dialog.showModal();
    $("#key-input").focus();
  }

  updateButton() {
    const button = $("#key-button");
    const key = this.app.api.key;
    clear(button);
    if (key) {
      button.append(icon("key"), h("span.key-mask", {}, `${key.slice(0, 3)}…${key.slice(-4)}`));
      button.setAttribute("aria-label", "API key set — change it");
      button.title = "Change API key";
    } else {
      button.append(icon("key"), h("span", {}, "Set API key"));
      button.setAttribute("aria-label", "Set API key");
    }
  }

  /** Try a key: on success remember it and load everything. */
  async connect(key, { remember = true, fromStorage = false } = {}) {
    const { api, runner, stage } = this.app;
    const previous = api.key;
    api.setKey(key);
    try {
      const list = await api.models();
      this.app.models = list.data || [];
    } catch (err) {
      api.setKey(previous);
      const message = err instanceof ApiError && err.status === 401
        ? "That key was not accepted by this server."
        : `Could not reach the server: ${err.message}`;
      if (fromStorage) this.open(message);
      else $("#key-error").textContent = message;
      return false;
    }
    localStorage.removeItem(KEY_STORAGE);
    sessionStorage.removeItem(KEY_STORAGE);
    (remember ? localStorage : sessionStorage).setItem(KEY_STORAGE, key);
    if (previous && previous !== key) {
      // Another key sees other runs: forget this page's view of the old key's.
      runner.runs.clear();
      runner.batches.clear();
      runner.current = null;
      stage.shownId = null;
      stage.render();
      runner.updateButtons();
    }
    this.updateButton();
    this.app.modelCard.populate();
    this.app.stream.start();
    this.app.history.setSelection([]);
    this.app.history.reload();
    this.app.usage.reset();
    return true;
  }

  unauthorized() {
    this.app.stream.stop();
    this.open("The server no longer accepts this key.");
  }
}
