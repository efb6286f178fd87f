// The theme button: follow the system, light or dark, kept in localStorage.

import { icon, clear, $ } from "./dom.js";

export function initTheme() {
  const button = $("#theme-button");
  const order = ["auto", "light", "dark"];
  const labels = { auto: "Theme: follow system", light: "Theme: light", dark: "Theme: dark" };
  const icons = { auto: "auto", light: "sun", dark: "moon" };
  const apply = (theme) => {
    document.documentElement.dataset.theme = theme;
    button.setAttribute("aria-label", `${labels[theme]} (click to change)`);
    button.title = labels[theme];
    clear(button).append(icon(icons[theme]));
  };
  let theme = localStorage.getItem("editserve.theme") || "auto";
  apply(theme);
  button.addEventListener("click", () => {
    theme = order[(order.indexOf(theme) + 1) % order.length];
    localStorage.setItem("editserve.theme", theme);
    apply(theme);
  });
}
