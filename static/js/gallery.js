// The preset gallery: a small figure (first and last layer of every run) per preset, drawn when
// the card scrolls into view so the page opens fast.

import { firstOutputRow, gridFigure, lastLayers } from "./figures.js";

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
    // the first layer and every run's last one (a 2-layer run beside a 20-layer one shows both);
    // a layer network's first activation or block sum, not the BatchNorm row before it
    const rows = [...new Set([firstOutputRow(result), ...lastLayers(result)])];
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

const CHARTS = {
  loss: "the loss curves",
  accuracy: "the accuracy curves",
  dead: "the dead units over the steps",
  update: "the update ratios",
  histograms: "the histograms at the capture steps",
};

/** A training or paths preset's card: its claim and verdict (data from the catalog, measured by the
 * tests on the preset's own output), and the way to the page that shows it. */
function claimCard(preset, href, action) {
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };
  const { claim } = preset;
  const verdict = el("span", { className: "verdict", textContent: claim.verdict.replace(/^./, (c) => c.toUpperCase()) });
  verdict.dataset.verdict = claim.verdict;
  const shown = claim.view.chart
    ? `Shown: ${CHARTS[claim.view.chart] ?? claim.view.chart}. `
    : "Shown: the weights' paths on the optimizers page. ";
  const card = el(
    "article",
    { className: "preset-card train-card" },
    el("h2", {}, el("a", { href, textContent: preset.title })),
    el("p", {}, el("q", { textContent: claim.text })),
    el("p", { className: "claim-verdict" }, verdict, " ", claim.reason),
    el("p", { className: "hint" }, `${shown}${claim.look_at}`),
    el("p", { className: "hint" }, `${claim.source} · `, el("code", { textContent: preset.name }), " · ", el("a", { href, textContent: action })),
  );
  card.dataset.share = preset.share;
  card.dataset.name = preset.name;
  return card;
}

async function listCards(id, url, card) {
  const box = document.getElementById(id);
  if (!box) return;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    box.replaceChildren(...(await response.json()).map(card));
  } catch (err) {
    box.textContent = `Could not list these presets: ${err.message}`;
  }
  box.setAttribute("aria-busy", "false");
}

listCards("train-gallery", "/api/v1/train/presets", (p) => claimCard(p, `/train?${p.share}`, "Train it"));
listCards("paths-gallery", "/api/v1/paths/presets", (p) => claimCard(p, p.page, "Open it"));
