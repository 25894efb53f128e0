// The dashboard's order-to-chaos phase diagrams: one per activation in the experiment, each
// marking the runs that use that activation, so no run is left off without a word.

import { fmt, phaseFigure, theoryNotes } from "./figures.js";
import { phaseCaption, phaseColorQuery } from "./phase-figure.js";

/** The runs (with their 0-based index) grouped by what their diagram depends on: the activation
 * and its parameters. Runs without a mean-field theory, or whose theory carries a note (its
 * assumptions fail: constant weights or biases), are on no diagram: their sigma_w and sigma_b
 * would place them where the network does not behave as drawn. */
export function phaseGroups(runs) {
  const groups = new Map();
  runs.forEach((run, index) => {
    if (!run.theory || run.theory.note || layerNetwork(run)) return;
    const { activation, alpha, pieces } = run.config;
    const key = JSON.stringify([activation, alpha ?? null, pieces ?? null]);
    if (!groups.has(key)) groups.set(key, { key, activation, alpha, pieces, runs: [] });
    groups.get(key).runs.push({ run, index });
  });
  return [...groups.values()];
}

/** Whether a run is a layer network (norms or residual blocks): its rows carry their layer type,
 * and the order-to-chaos diagram, the plain stack's, does not place it. */
export function layerNetwork(run) {
  return run.layers.some((layer) => layer.layer_type);
}

/** sigma_w of a run's hidden layers (its first layer's when it has only one). */
export function runSigmaW(run) {
  const w2 = run.theory.sigma_w2;
  return Math.sqrt(w2.at(w2.length > 1 ? 1 : 0) ?? 0);
}

/** The phase-diagram query that shows every run of `group`: the API allows axes up to 50. */
export function diagramQuery(group) {
  const axisMax = (values, least) => String(Math.min(50, Math.max(least, Math.ceil(1.2 * Math.max(...values)))));
  const query = new URLSearchParams({
    activation: group.activation,
    sigma_w_max: axisMax(group.runs.map((r) => runSigmaW(r.run)), 4),
    sigma_b_max: axisMax(group.runs.map((r) => Math.sqrt(r.run.theory.sigma_b2)), 1),
  });
  for (const name of ["alpha", "pieces"]) if (group[name] !== undefined) query.set(name, String(group[name]));
  return query;
}

let uid = 0;

export class PhasePanel {
  /** `root` holds the diagrams; `onPick(runIndex, sigmaW, sigmaB)` gets a click on one. Above it,
   * a control colours every diagram by chi or by xi_c, with a caption saying what the colour is;
   * `color` is the colour to start with, `onColor(color)` hears the reader's choice (the link keeps it). */
  constructor(root, plotConfig, onPick, { color = "chi", onColor = null } = {}) {
    this.root = root;
    this.plotConfig = plotConfig;
    this.onPick = onPick;
    this.cache = new Map(); // query -> Promise of the diagram: the same diagram is fetched once
    this.blocks = new Map(); // group key and its runs -> the block drawn for them, reused (no flicker)
    this.color = color === "xi_c" ? "xi_c" : "chi";
    this.onColor = onColor;
    this.result = null;
    this.control = this.colorControl();
    this.control.select.value = this.color;
    root.before(this.control.row, this.control.caption);
  }

  colorControl() {
    const row = Object.assign(document.createElement("p"), { className: "hint phase-color" });
    const select = Object.assign(document.createElement("select"), { id: `phase-color-${++uid}` });
    select.append(
      Object.assign(document.createElement("option"), { value: "chi", text: "χ: growth of a small change per layer" }),
      Object.assign(document.createElement("option"), { value: "xi_c", text: "ξc: depth scale of the correlation (layers)" }),
    );
    row.append(Object.assign(document.createElement("label"), { htmlFor: select.id, textContent: "Colour by " }), select);
    const caption = Object.assign(document.createElement("p"), { className: "hint phase-caption", hidden: true });
    select.addEventListener("change", () => {
      this.color = select.value;
      this.onColor?.(this.color);
      if (this.result) this.draw(this.result).catch((err) => (caption.textContent = `Cannot draw: ${err.message}.`));
    });
    return { row, select, caption };
  }

  fetchDiagram(query) {
    const key = query.toString();
    if (!this.cache.has(key)) {
      const answer = fetch(`/api/v1/phase-diagram?${key}`).then((r) => {
        if (!r.ok) throw new Error(`the phase diagram was refused (${r.status})`);
        return r.json();
      });
      answer.catch(() => this.cache.delete(key)); // a refusal is not remembered
      this.cache.set(key, answer);
    }
    return this.cache.get(key);
  }

  /** Draw one diagram per activation group; returns the number drawn. */
  async draw(result) {
    this.result = result;
    const { caption } = this.control;
    caption.textContent = phaseCaption(this.color);
    caption.hidden = !caption.textContent;
    // the page's own note reads the colours as chi: shown only while they are
    const chiNote = document.getElementById("phase-chi-note");
    if (chiNote) chiNote.hidden = this.color !== "chi";
    const groups = phaseGroups(result.runs);
    const keys = groups.map((group) => `${group.key}:${group.runs.map((r) => r.index)}`);
    const blocks = groups.map((group, g) => this.blocks.get(keys[g]) ?? this.block(group));
    this.blocks = new Map(keys.map((key, g) => [key, blocks[g]]));
    const noted = theoryNotes(result);
    const plainOnly = "the diagrams are the plain stack's, and its norms or residual blocks change the map they draw";
    const layered = result.runs
      .map((run, index) => ({ run: index, label: run.label, note: plainOnly, skip: !layerNetwork(run) }))
      .filter((n) => !n.skip && !noted.some((m) => m.run === n.run));
    const texts = [...noted, ...layered].sort((a, b) => a.run - b.run).map(({ run, label, note }) => `Run ${run + 1} (${label}) is on no diagram: ${note}.`);
    // Put back only what changed: re-inserting the same blocks made every plot in them lay out again.
    const now = [...this.root.children];
    const same = now.length === blocks.length + texts.length && blocks.every((b, i) => now[i] === b.section) && texts.every((t, i) => now[blocks.length + i].textContent === t);
    if (!same) {
      const unmarked = texts.map((textContent) => Object.assign(document.createElement("p"), { className: "hint phase-unmarked", textContent }));
      this.root.replaceChildren(...blocks.map((b) => b.section), ...unmarked);
    }
    await Promise.all(groups.map((group, g) => this.drawGroup(group, blocks[g])));
    return groups.length;
  }

  block(group) {
    const section = document.createElement("section");
    section.className = "phase-block";
    section.dataset.activation = group.activation;
    const title = document.createElement("h3");
    title.className = "phase-title";
    const names = group.runs.map((r) => `run ${r.index + 1}`).join(", ");
    title.textContent = `${group.activation}: ${names}`;
    const start = document.createElement("p");
    start.className = "hint phase-start";
    start.hidden = true;
    const hint = document.createElement("p");
    hint.className = "hint";
    const select = document.createElement("select");
    select.id = `phase-run-${++uid}`;
    select.className = "phase-run";
    select.append(
      ...group.runs.map((r) => Object.assign(document.createElement("option"), { value: String(r.index), text: `run ${r.index + 1}` })),
    );
    const label = Object.assign(document.createElement("label"), { htmlFor: select.id, textContent: "Click a point to give " });
    hint.append(label, select, " those weights and biases (the other runs stay as they are).");
    const empty = Object.assign(document.createElement("p"), { className: "hint phase-empty", hidden: true });
    const plot = document.createElement("div");
    plot.className = "plot phase-plot";
    section.append(title, hint, start, empty, plot);
    return { section, start, empty, select, plot };
  }

  async drawGroup(group, block) {
    const { start, empty, select, plot } = block;
    const color = this.color;
    const query = phaseColorQuery(diagramQuery(group), color);
    let diagram = await this.fetchDiagram(query);
    // Where the map has two stable variances the phase depends on where it starts: draw the
    // diagram from the group's first run's own q1, as that run's theory does.
    const q1 = group.runs[0].run.layers[0].theory?.q;
    const bistable = diagram.bistable?.some((row) => row.some(Boolean));
    if (bistable && Number.isFinite(q1) && q1 >= 1e-12 && q1 <= 1e12) {
      query.set("q0", String(q1));
      diagram = await this.fetchDiagram(query);
    }
    const { data, layout } = phaseFigure(diagram, group.runs, color);
    // The same diagram with the same markers (another activation's run moved): nothing to redraw.
    // The query names the diagram; its grids are the same answer (cached), so only the markers
    // and the layout (axes reaching them) are compared.
    const shown = `${query}|${JSON.stringify(data.filter((t) => t.mode === "markers+text"))}|${JSON.stringify(layout)}`;
    if (block.shown === shown) return;
    block.shown = null; // a failed react leaves nothing taken for drawn
    // The config goes with the first drawing only: given again, react compares plotly's whole config.
    await window.Plotly.react(plot, data, layout, plot.dataset.wired ? undefined : this.plotConfig);
    block.shown = shown;
    plot.dataset.color = color;
    const none = color === "xi_c" && !diagram.log10_xi_c.some((row) => row.some((v) => v !== null));
    empty.hidden = !none;
    empty.textContent = none
      ? `No ξc on this diagram: ${group.activation === "maxout" ? "maxout has no C-map (the max over pieces has no closed form here)" : "the variance map has no finite fixed point at any of its points"}.`
      : "";
    const from = query.has("q0") ? `q₁ = ${fmt(diagram.q0)}, run ${group.runs[0].index + 1}'s first layer` : `q = ${fmt(diagram.q0)}`;
    start.hidden = !bistable;
    start.textContent = bistable
      ? `Inside the dotted line the variance map has two stable fixed points, so the phase there depends ` +
        `on where it starts: the colours are for ${from}; a marker's hover gives its run's own phase.`
      : "";
    if (!plot.dataset.wired) {
      plot.on("plotly_click", (event) => {
        const point = event.points?.[0];
        if (point) this.onPick(Number(select.value), point.x, point.y);
      });
      plot.dataset.wired = "1";
    }
  }
}
