// The preset gallery: a small figure (first and last layer of every run) per preset, drawn when
// the card scrolls into view so the page opens fast.

import { gridFigure, lastLayers } from "./figures.js";

const CONFIG = { displayModeBar: false, showSendToCloud: false, responsive: true, staticPlot: true };

/** One preset's result. One request at a time per card (the gallery never aborts its own); a
 * busy server (503: too much queued work, as when every card scrolls into view at once) is asked
 * again after the Retry-After it sends, a few times, instead of leaving the card empty. */
async function fetchResult(share, tries = 8) {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`/api/v1/simulate?${share}`);
    if (response.ok) return response.json();
    if (response.status !== 503 || attempt >= tries) throw new Error(`the server answered ${response.status}`);
    const wait = Number(response.headers.get("retry-after")) || 1;
    await new Promise((resolve) => setTimeout(resolve, 1000 * Math.min(wait, 10)));
  }
}

async function drawCard(card) {
  const plot = card.querySelector(".mini");
  try {
    const result = await fetchResult(card.dataset.share);
    // the first layer and every run's last one (a 2-layer run beside a 20-layer one shows both)
    const rows = [...new Set([0, ...lastLayers(result)])];
    // the values the preset's claim is about: activations, z or gradients
    const kind = card.dataset.kind || "post";
    const { data, layout } = gridFigure(result, { kind, rows, compact: true, width: plot.clientWidth || 400 });
    // room for the column titles, a line per part ("tanh → sigmoid", "N(0, 0.01²)", "depth 20")
    const lines = Math.max(...result.runs.map((r) => r.label.split(" · ").length + (r.label.includes(", ") ? 1 : 0)));
    const top = 36 + 16 * lines;
    layout.height += top - 44;
    layout.margin = { l: 48, r: 8, t: top, b: 28 };
    await window.Plotly.newPlot(plot, data, layout, CONFIG);
    card.dataset.drawn = "1";
  } catch (err) {
    plot.textContent = `Could not draw this preset: ${err.message}`;
    card.dataset.drawn = "error";
  }
}

const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    observer.unobserve(entry.target);
    drawCard(entry.target);
  }
}, { rootMargin: "200px" });

for (const card of document.querySelectorAll(".preset-card")) observer.observe(card);
