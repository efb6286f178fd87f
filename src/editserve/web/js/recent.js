// The playground's "Recent runs" strip and the History tab's count, redrawn whenever the
// history changes; an active run another client started while this page is open is
// followed too.

import { h, clear, $, shortId } from "./dom.js";
import { ACTIVE } from "./gen.js";
import { thumb } from "./history.js";

export function renderRecent(app, items, total) {
  const { runs } = app.runner;
  const count = $("#history-count");
  count.hidden = !total;
  count.textContent = total ? String(total) : "";
  const strip = $("#recent-strip");
  clear(strip);
  const recent = items.slice(0, 12);
  if (!recent.length) {
    strip.append(h("li.recent-empty.muted", {}, "Runs you make show up here."));
    return;
  }
  for (const gen of recent) {
    strip.append(
      h(
        "li",
        {},
        h(
          "button.recent-item",
          {
            type: "button",
            "aria-current": gen.generation_id === app.stage.shownId ? "true" : null,
            "aria-label": `Show run ${shortId(gen.generation_id)}: ${gen.prompt || ""}`,
            title: gen.prompt || "",
            dataset: { status: gen.status },
            onclick: () => app.stage.showGeneration(gen),
          },
          thumb(gen),
        ),
      ),
    );
  }
  // A run created by another client while this page is open: track it too.
  for (const gen of recent) if (ACTIVE.has(gen.status) && !runs.has(gen.generation_id)) runs.set(gen.generation_id, { ...gen });
}
