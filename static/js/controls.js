// The control panel, built from /api/v1/catalog: shared settings and one card per run.
// Controls are filled from the server's canonical experiment and read back into a JSON body;
// validation is the server's (its 422 names the field). The fields people scrub (std, gain, σb,
// depth, width, α) carry a slider beside their text: a moving slider asks for live redraws
// (onLive), the text stays the value sent, and a change (the drag's end) is a change as any other.

import { SLIDERS, positionOf, sliderSpec, valueText } from "./slider-scale.js";

const SHARED = ["depth", "width", "input_dim", "samples", "input", "input_mean", "input_std", "input_low",
  "input_high", "input_fraction", "bias", "bias_value", "bias_std", "seed", "bins"];
const RUN = ["activation", "alpha", "pieces", "output_activation", "block", "branch", "norm", "norm_at",
  "branch_scale", "res_init", "init", "std", "limit", "value", "mode", "gain", "label"];
// Architecture fields a plain stack (block) or a network without norm (norm) does not read: hidden,
// so not sent. norm_at's blank is the block's own default (before, or pre for residual blocks).
const READ_WHEN = { branch: ["block", "residual"], branch_scale: ["block", "residual"], res_init: ["block", "residual"] };
const OWNERS = { activations: "activation", initializers: "init", biases: "bias", inputs: "input" };

let uid = 0;

export class Controls {
  constructor(catalog, { shared, runs, onChange, onLive = () => {} }) {
    this.fields = Object.fromEntries(catalog.fields.map((f) => [f.name, f]));
    // param name -> { owner field, default per component that reads it }
    this.params = {};
    for (const [list, owner] of Object.entries(OWNERS)) {
      for (const component of catalog[list]) {
        for (const p of component.params) {
          this.params[p.name] ??= { owner, defaults: {}, bounds: {} };
          this.params[p.name].defaults[component.name] = p.default;
          this.params[p.name].bounds[component.name] = { min: p.min, max: p.max };
        }
      }
    }
    this.sharedRoot = shared;
    this.runsRoot = runs;
    this.onChange = onChange;
    this.onLive = onLive;
    // Rebuilding the panel removes a focused input, and Chrome then reports its last edit as a
    // change once more: changes during fill() are the server's values, not the visitor's.
    this.filling = false;
    shared.addEventListener("change", () => this.filling || this.onChange());
    runs.addEventListener("change", (e) => {
      if (this.filling) return;
      if (e.target.dataset.field === "block") {
        // pre/post and before/after belong to one kind of block each: back to the new one's default
        const place = e.target.closest("fieldset.run")?.querySelector(':scope > .field > [data-field="norm_at"]');
        if (place) place.value = "";
      }
      if (e.target.dataset.field && this.params[e.target.dataset.field] === undefined) this.refreshVisibility();
      this.onChange();
    });
  }

  /** The default a field takes in `context` (the selected components), or "". */
  defaultOf(name, context) {
    const param = this.params[name];
    if (param) return param.defaults[context[param.owner]] ?? "";
    return this.fields[name]?.default ?? "";
  }

  input(name, value, { placeholder = "", optional = false } = {}) {
    const f = this.fields[name];
    const id = `f${++uid}`;
    const wrap = document.createElement("div");
    wrap.className = "field";
    wrap.dataset.name = name;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = name.replace(/_/g, " ");
    label.title = f.doc;
    let el;
    if (f.type === "choice") {
      el = document.createElement("select");
      const choices = optional ? ["", ...f.choices] : f.choices;
      for (const c of choices) {
        const o = document.createElement("option");
        o.value = c;
        o.textContent = c === "" ? placeholder || "—" : c;
        el.append(o);
      }
    } else {
      el = document.createElement("input");
      if (f.type === "int" || f.type === "float") {
        el.type = "number";
        el.step = f.type === "int" ? "1" : "any";
        if (f.min !== null) el.min = f.min;
        if (f.max !== null) el.max = f.max;
        el.inputMode = f.type === "int" ? "numeric" : "decimal";
      } else {
        el.type = "text";
        if (f.type === "widths") el.title = "one width, or one per layer: 100-50-20";
      }
      el.placeholder = placeholder;
    }
    el.id = id;
    el.dataset.field = name;
    el.value = value ?? "";
    wrap.append(label, el);
    // Overrides stay plain fields: blank there means "shared", which no slider position says.
    if (!optional && SLIDERS[name]) wrap.append(this.slider(name, el));
    return wrap;
  }

  /** The slider of text field `text`: its positions index the scale's values (slider-scale.js). */
  slider(name, text) {
    const range = document.createElement("input");
    range.type = "range";
    range.className = "slider";
    range.dataset.slider = name;
    range.min = "0";
    range.step = "1";
    range.setAttribute("aria-label", `${name.replace(/_/g, " ")}${SLIDERS[name].scale === "log" ? " (log scale)" : ""}`);
    range.addEventListener("input", () => {
      const values = range.scale?.values;
      if (!values) return;
      text.value = valueText(values, Number(range.value));
      range.setAttribute("aria-valuetext", text.value);
      this.onLive();
    });
    // Held by a pointer: a fill from an earlier answer must not move the thumb under the finger.
    range.addEventListener("pointerdown", () => (range.dataset.held = "1"));
    for (const type of ["pointerup", "pointercancel", "change", "blur"]) range.addEventListener(type, () => delete range.dataset.held);
    text.addEventListener("input", () => this.syncSlider(text));
    return range;
  }

  /** Rest the slider of `text` where its value is (the nearest position for a value it cannot
   * show: the text keeps what was typed). `bounds` changes the scale (alpha's activation). */
  syncSlider(text, bounds) {
    const range = text.parentElement?.querySelector(":scope > input.slider");
    if (!range) return;
    if (bounds !== undefined || !range.scale) {
      const scale = sliderSpec(text.dataset.field, bounds ?? this.boundsOf(text));
      range.scale = scale;
      range.hidden = !scale;
      if (!scale) return;
      if (range.max !== String(scale.values.length - 1)) range.max = String(scale.values.length - 1);
    }
    if (!range.scale || range.dataset.held) return;
    const position = String(positionOf(range.scale.values, range.scale.log, text.value) ?? 0);
    if (range.value !== position) range.value = position; // no write, no relayout, when unchanged
    if (range.getAttribute("aria-valuetext") !== (text.value || "blank")) range.setAttribute("aria-valuetext", text.value || "blank");
  }

  /** The catalog's bounds of a field in its card's selected component (alpha: the activation's). */
  boundsOf(text) {
    const param = this.params[text.dataset.field];
    if (!param) return {};
    const root = text.closest("fieldset.run") ?? this.sharedRoot;
    return param.bounds[this.context(root)[param.owner]] ?? {};
  }

  /** Fill every control from a canonical experiment (the API's `experiment`): in place when the
   * runs are as many as the cards (focus, a held slider and open sections stay), else rebuilt. */
  fill(experiment) {
    this.filling = true;
    try {
      if (!this.update(experiment)) this.build(experiment);
    } finally {
      this.filling = false;
    }
  }

  sharedValues(experiment) {
    const shared = { ...experiment };
    delete shared.runs;
    const context = { bias: shared.bias ?? "none", input: shared.input ?? "normal" };
    return Object.fromEntries(SHARED.map((name) => [name, shared[name] ?? this.defaultOf(name, context)]));
  }

  runValues(run) {
    const context = { activation: run.activation, init: run.init };
    const blank = (name) => name === "label" || name === "output_activation" || name === "norm_at";
    return Object.fromEntries(RUN.map((name) => [name, run[name] ?? (blank(name) ? "" : this.defaultOf(name, context))]));
  }

  update(experiment) {
    const cards = [...this.runsRoot.querySelectorAll(":scope > fieldset.run")];
    if (!this.sharedRoot.children.length || cards.length !== experiment.runs.length) return false;
    const put = (root, name, value) => {
      const el = root.querySelector(`:scope > .field > [data-field="${name}"]`);
      if (!el) return;
      if (el.value !== String(value ?? "")) el.value = value ?? "";
      this.syncSlider(el);
    };
    for (const [name, value] of Object.entries(this.sharedValues(experiment))) put(this.sharedRoot, name, value);
    for (const box of this.sharedRoot.querySelectorAll("fieldset.range")) {
      const [lo, hi] = experiment[box.dataset.range] ?? ["", ""];
      const [low, high] = box.querySelectorAll("input");
      [low.value, high.value] = [String(lo), String(hi)];
    }
    cards.forEach((card, i) => {
      const run = experiment.runs[i];
      for (const [name, value] of Object.entries(this.runValues(run))) put(card, name, value);
      const overrides = card.querySelector(":scope > details.overrides");
      for (const name of SHARED) put(overrides, name, run[name] ?? "");
      if (SHARED.some((name) => run[name] !== undefined)) overrides.open = true;
    });
    this.refreshVisibility();
    return true;
  }

  build(experiment) {
    const shared = { ...experiment };
    delete shared.runs;
    this.sharedRoot.replaceChildren();
    for (const [name, value] of Object.entries(this.sharedValues(experiment))) {
      this.sharedRoot.append(this.input(name, value));
    }
    const histogram = document.createElement("div");
    histogram.className = "ranges";
    for (const [key, title] of [["range", "activation range"], ["z_range", "z range"]]) {
      const [lo, hi] = experiment[key] ?? ["", ""];
      histogram.append(this.rangeInput(key, title, lo, hi));
    }
    this.sharedRoot.append(histogram);
    this.runsRoot.replaceChildren(...experiment.runs.map((run) => this.runCard(run, shared)));
    this.refreshVisibility();
  }

  rangeInput(key, title, lo, hi) {
    const box = document.createElement("fieldset");
    box.className = "range";
    box.dataset.range = key;
    const legend = document.createElement("legend");
    legend.textContent = `${title} (blank: automatic)`;
    box.append(legend);
    for (const [part, value] of [["low", lo], ["high", hi]]) {
      const el = document.createElement("input");
      el.type = "number";
      el.step = "any";
      el.value = value;
      el.placeholder = part;
      el.setAttribute("aria-label", `${title} ${part}`);
      el.dataset.part = part;
      box.append(el);
    }
    return box;
  }

  runCard(run, shared = {}) {
    const card = document.createElement("fieldset");
    card.className = "run";
    const legend = document.createElement("legend");
    card.append(legend);
    for (const [name, value] of Object.entries(this.runValues(run))) {
      const placeholder = { output_activation: "same", label: "automatic", norm_at: "default" }[name] ?? "";
      card.append(this.input(name, value, { placeholder, optional: name === "output_activation" || name === "norm_at" }));
    }
    const overrides = document.createElement("details");
    overrides.className = "overrides";
    const summary = document.createElement("summary");
    summary.textContent = "Override shared settings";
    overrides.append(summary);
    for (const name of SHARED) {
      overrides.append(this.input(name, run[name] ?? "", { placeholder: "shared", optional: true }));
    }
    overrides.open = SHARED.some((name) => run[name] !== undefined);
    card.append(overrides);
    const actions = document.createElement("div");
    actions.className = "run-actions";
    for (const [action, text] of [["duplicate", "Duplicate"], ["remove", "Remove"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.dataset.action = action;
      actions.append(b);
    }
    card.append(actions);
    actions.addEventListener("click", (e) => this.cardAction(card, e.target.dataset.action));
    return card;
  }

  cardAction(card, action) {
    if (action === "duplicate") {
      card.after(this.runCard(this.readRun(card)));
    } else if (action === "remove" && this.runsRoot.children.length > 1) {
      card.remove();
    } else {
      return;
    }
    this.refreshVisibility();
    this.onChange();
  }

  addRun() {
    const cards = this.runsRoot.querySelectorAll("fieldset.run");
    const last = cards[cards.length - 1];
    this.runsRoot.append(this.runCard(last ? this.readRun(last) : { activation: "relu", init: "he_normal" }));
    this.refreshVisibility();
    this.onChange();
  }

  /** Set fields of the shared settings (run = null) or of run `run` (0-based), then update. */
  set(run, values) {
    const root = run === null ? this.sharedRoot : this.runsRoot.querySelectorAll("fieldset.run")[run];
    if (!root) return;
    for (const [name, value] of Object.entries(values)) {
      const el = root.querySelector(`:scope > .field > [data-field="${name}"], :scope > .fields > .field > [data-field="${name}"]`)
        ?? root.querySelector(`.field > [data-field="${name}"]`);
      if (el) {
        el.value = String(value);
        this.syncSlider(el);
      }
    }
    this.refreshVisibility();
    this.onChange();
  }

  /** Show only the parameters the selected components read; number the run cards. */
  refreshVisibility() {
    const sharedContext = this.context(this.sharedRoot);
    for (const el of this.sharedRoot.querySelectorAll(".field")) this.toggle(el, sharedContext);
    const cards = [...this.runsRoot.querySelectorAll("fieldset.run")];
    cards.forEach((card, i) => {
      card.querySelector("legend").textContent = `Run ${i + 1}`;
      const context = this.context(card);
      for (const el of card.querySelectorAll(":scope > .field")) this.toggle(el, context);
      const value = (name) => card.querySelector(`:scope > .field > [data-field="${name}"]`)?.value;
      for (const wrap of card.querySelectorAll(":scope > .field")) {
        const when = READ_WHEN[wrap.dataset.name];
        if (when) wrap.hidden = value(when[0]) !== when[1];
        if (wrap.dataset.name === "norm_at") wrap.hidden = (value("norm") ?? "none") === "none";
      }
      card.querySelector('[data-action="remove"]').disabled = cards.length === 1;
    });
  }

  context(root) {
    const context = {};
    for (const owner of Object.values(OWNERS)) {
      const el = root.querySelector(`:scope > .field [data-field="${owner}"], :scope > .field > [data-field="${owner}"]`);
      if (el) context[owner] = el.value;
    }
    return context;
  }

  toggle(wrap, context) {
    const param = this.params[wrap.dataset.name];
    const visible = !param || !(param.owner in context) || context[param.owner] in param.defaults;
    wrap.hidden = !visible;
    const text = wrap.querySelector(":scope > [data-field]");
    // the scale follows the component (alpha: leaky ReLU's 0..1, ELU's 0..10)
    if (visible && text) this.syncSlider(text, param ? (param.bounds[context[param.owner]] ?? {}) : {});
  }

  /** The JSON body for POST /api/v1/simulate. */
  read() {
    const body = {};
    for (const wrap of this.sharedRoot.querySelectorAll(".field")) {
      if (wrap.hidden) continue;
      const el = wrap.querySelector("[data-field]");
      if (el.value !== "") body[el.dataset.field] = typed(this.fields[el.dataset.field], el.value);
    }
    for (const box of this.sharedRoot.querySelectorAll("fieldset.range")) {
      const [lo, hi] = [...box.querySelectorAll("input")].map((el) => el.value);
      if (lo !== "" || hi !== "") body[box.dataset.range] = [typed({ type: "float" }, lo), typed({ type: "float" }, hi)];
    }
    body.runs = [...this.runsRoot.querySelectorAll("fieldset.run")].map((card) => this.readRun(card));
    return body;
  }

  readRun(card) {
    const run = {};
    for (const el of card.querySelectorAll("[data-field]")) {
      if (el.closest(".field").hidden || el.value === "") continue;
      run[el.dataset.field] = typed(this.fields[el.dataset.field], el.value);
    }
    return run;
  }
}

/** A control's text as the JSON value its field takes; text that is no number goes as it is,
 * so the server's answer names the field. */
function typed(field, text) {
  if (field.type === "int" || field.type === "float") {
    const n = Number(text);
    return text.trim() !== "" && Number.isFinite(n) ? n : text;
  }
  if (field.type === "widths") {
    const parts = text.split("-").map((p) => Number(p));
    if (parts.every((n) => Number.isInteger(n))) return parts.length === 1 ? parts[0] : parts;
  }
  return text;
}
