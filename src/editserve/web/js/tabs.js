// The tabs (Playground, History, API, Usage): the open one follows the URL's hash, arrow keys
// move between them. And the playground's layout: where it starts on the page.

import { $, $$ } from "./dom.js";
import { renderStartup } from "./startup.js";

const VIEWS = ["playground", "history", "api", "usage"];

export class Tabs {
  constructor(app) {
    this.app = app;
    this.view = null; // the open one
    this.measureLayout = null;
  }

  init() {
    const tabs = $$(".tabs .tab");
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", () => this.show(tab.dataset.view));
      tab.addEventListener("keydown", (e) => {
        let next = null;
        if (e.key === "ArrowRight") next = (i + 1) % tabs.length;
        if (e.key === "ArrowLeft") next = (i - 1 + tabs.length) % tabs.length;
        if (e.key === "Home") next = 0;
        if (e.key === "End") next = tabs.length - 1;
        if (next === null) return;
        e.preventDefault();
        this.show(tabs[next].dataset.view);
        tabs[next].focus();
      });
    });
    $$("[data-goto]").forEach((el) => el.addEventListener("click", () => this.show(el.dataset.goto)));
    window.addEventListener("hashchange", () => this.show(location.hash.slice(1), { fromHash: true }));
    const initial = location.hash.slice(1);
    this.show(VIEWS.includes(initial) ? initial : "playground", { fromHash: true });
  }

  show(name, { fromHash = false } = {}) {
    if (!VIEWS.includes(name)) return;
    this.view = name;
    for (const tab of $$(".tabs .tab")) {
      const on = tab.dataset.view === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    for (const view of VIEWS) $(`#view-${view}`).hidden = view !== name;
    if (!fromHash && location.hash.slice(1) !== name) history.replaceState(null, "", `#${name}`);
    if (name === "api") this.app.apiView.refresh();
    if (name === "usage") this.app.usage.refresh();
    if (name === "playground") this.measureLayout?.();
    if (name === "history" && this.app.history.mode === "list") this.app.history.render();
  }

  /** Tell the CSS where the playground starts, so form and output fit the first screen. */
  initLayout() {
    const view = $("#view-playground");
    const measure = () => {
      if (view.hidden) return;
      const top = view.getBoundingClientRect().top + window.scrollY;
      view.style.setProperty("--work-top", `${Math.round(top)}px`);
    };
    const observer = new ResizeObserver(measure);
    for (const el of [$("#model-card"), $("#weights-banner"), renderStartup(null), $(".topbar")]) observer.observe(el);
    window.addEventListener("resize", measure);
    this.measureLayout = measure;
    measure();
  }
}
