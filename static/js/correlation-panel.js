// The dashboard's correlation map: c over depth for every run of the current link, measured (markers,
// +- sd across pairs; a band over the weight draws with seeds=N) beside the mean-field C-map's
// prediction (lines), from GET /api/v1/diagnostics of the same link with no Jacobian (only the map
// is drawn here; the /diagnostics page has the rest).

import { getLatest } from "./api.js";
import { correlationFigure, fixedPointText, phaseText, runColor } from "./diagnostics-figure.js";
import { el } from "./page.js";

const API = "/api/v1/diagnostics";

/** The diagnostics query of a dashboard link: the map only (jacobian=0); a link's seeds=N are the
 * diagnostics' weight draws too, so the map gets the same ensemble's band. */
export function correlationQuery(share) {
  const parts = share.split("&").filter((part) => part && !part.startsWith("jacobian="));
  return [...parts, "jacobian=0"].join("&");
}

/** The sentence under the section: what the map shows of this answer (its c0 and pairs). */
export function correlationCaption(answer) {
  const c0 = answer.options.c0.join(", ");
  const seeds = answer.options.seeds ? `, ${answer.options.seeds} weight draws (band: lowest to highest)` : "";
  return `Input pairs with starting correlation c0 = ${c0}, ${answer.options.pairs} pairs each${seeds}.`;
}

export class CorrelationPanel {
  /** `root` holds one card per run; `status` says what is shown, or why nothing is. */
  constructor(root, status, plotConfig) {
    this.root = root;
    this.status = status;
    this.plotConfig = plotConfig;
    this.cards = [];
    this.shown = null; // the link whose map is drawn or on its way
  }

  /** Draw the map of `result`'s runs; resolves once drawn (or refused, which `status` says). */
  async draw(result) {
    // The same link's map is the same answer: asked for or drawn already, it is not asked again.
    if (this.shown === result.share) return;
    this.shown = result.share;
    let answer;
    try {
      answer = await getLatest(API, `${API}?${correlationQuery(result.share)}`);
    } catch (err) {
      if (err.name === "AbortError") return; // a newer link's map took its place
      this.root.replaceChildren();
      this.cards = [];
      this.status.textContent = `No correlation map for this link: ${err.message}.`;
      this.root.dataset.drawn = result.share;
      return;
    }
    this.status.textContent = correlationCaption(answer);
    // The cards are kept while the runs are the same: plotly redraws in place, with no flicker.
    if (this.cards.length !== answer.runs.length) {
      this.cards = answer.runs.map(() => {
        const card = {
          title: el("span"),
          swatch: el("span", { className: "swatch" }),
          fixed: el("p", { className: "fixed-point" }),
          phase: el("p", { className: "phase hint" }),
          plot: el("div", { className: "plot corr-plot" }),
        };
        card.section = el("section", { className: "diag-run" }, el("h3", {}, card.swatch, card.title), card.fixed, card.phase, card.plot);
        return card;
      });
      this.root.replaceChildren(...this.cards.map((c) => c.section));
    }
    await Promise.all(
      answer.runs.map((run, index) => {
        const card = this.cards[index];
        card.section.dataset.run = String(index);
        card.swatch.style.background = runColor(index); // CSSOM, not a style attribute: the CSP allows it
        card.title.textContent = run.label;
        card.fixed.textContent = fixedPointText(run.correlation.fixed_point);
        card.phase.textContent = phaseText(run.correlation.fixed_point);
        // A run whose map is the same (another run changed) is not drawn again.
        const shown = JSON.stringify([index, run]);
        if (card.shown === shown) return null;
        const fig = correlationFigure(run, 280);
        const config = card.configured ? undefined : this.plotConfig; // the first drawing's only
        card.shown = null; // a failed react leaves nothing taken for drawn
        return window.Plotly.react(card.plot, fig.data, fig.layout, config).then(() => Object.assign(card, { shown, configured: true }));
      }),
    );
    this.root.dataset.drawn = result.share;
  }
}
