// node --test tests/js: the diagnostics page's figures, tables and sentences.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  band,
  correlationFigure,
  diagnosticsQuery,
  fixedPointText,
  formDefaults,
  formFields,
  meanSquareFigure,
  methodText,
  phaseText,
  refusedKey,
  shade,
  shareOf,
  spectrumFigure,
  spectrumRows,
} from "../../static/js/diagnostics-figure.js";

/** A run as GET /api/v1/diagnostics answers it. */
const run = (extra = {}) => ({
  label: "tanh, Xavier × 4",
  depth: 2,
  correlation: {
    c0: [0.1, 0.9],
    layers: [
      { layer: 1, measured: [0.11, 0.88], sd: [0.02, 0.01], predicted: [0.1, 0.9] },
      { layer: 2, measured: [0.05, null], sd: [0.03, null], predicted: [0.06, 0.6] },
    ],
    q: [16, 12.6],
    fixed_point: { q_star: 12.6, c_star: 0.0297, chi1: 2.37, slope_c_star: 0.76, xi_q: 0.49, xi_c: 3.64 },
    note: "",
  },
  jacobian: {
    method: "exact",
    directions: 100,
    samples: 2,
    layers: [
      { layer: 1, mean_sq: 2.2, predicted_mean_sq: 2.37, spectrum: null },
      {
        layer: 2,
        mean_sq: 5.1,
        predicted_mean_sq: 5.6,
        spectrum: { min: 0.01, max: 4, spread: 400, var_sq: 30.5, zeros: 3, count: 200, log10_edges: [-2, -1, 0, 1], counts: [50, 100, 47] },
      },
    ],
  },
  ...extra,
});

test("diagnosticsQuery appends the keys given, trimmed, and leaves out the empty ones", () => {
  assert.equal(diagnosticsQuery("run=tanh,xavier", { c0: " 0.1, 0.5 ", pairs: "4", jacobian: "" }), "run=tanh,xavier&c0=0.1,0.5&pairs=4");
  assert.equal(diagnosticsQuery("run=tanh,xavier", { jacobian: 0 }), "run=tanh,xavier&jacobian=0");
  assert.equal(diagnosticsQuery("", { pairs: "2" }), "pairs=2");
  assert.equal(diagnosticsQuery("run=tanh,xavier", { seeds: "4", jacobian: "1" }), "run=tanh,xavier&seeds=4&jacobian=1");
});

test("fixedPointText names every quantity, infinity for an infinite depth scale", () => {
  const fp = run().correlation.fixed_point;
  assert.equal(fixedPointText(fp), "q* 12.6 · χ₁ 2.37 · c* 0.0297 · ξq 0.49 · ξc 3.64");
  assert.equal(fixedPointText({ ...fp, xi_c: null, c_star: 1, chi1: 1 }), "q* 12.6 · χ₁ 1 · c* 1 · ξq 0.49 · ξc ∞");
  assert.match(fixedPointText({ ...fp, q_star: null, chi1: null }), /no fixed point/);
});

test("phaseText reads the phase from chi1", () => {
  const fp = run().correlation.fixed_point;
  assert.match(phaseText(fp), /^Chaotic .* c\* = 0.0297 < 1/);
  assert.match(phaseText({ ...fp, chi1: 0.5 }), /^Ordered/);
  assert.match(phaseText({ ...fp, chi1: 1.02 }), /^Critical/);
  assert.equal(phaseText({ ...fp, chi1: null }), "");
});

test("correlationFigure: a line per c0 with a prediction, markers with sd bars, c* dashed", () => {
  const { data, layout } = correlationFigure(run());
  const lines = data.filter((t) => t.mode === "lines");
  const dots = data.filter((t) => t.mode === "markers");
  assert.equal(lines.length, 2);
  assert.equal(dots.length, 2);
  assert.deepEqual(dots[0].y, [0.11, 0.05]);
  assert.deepEqual(dots[1].y, [0.88, null]);
  assert.deepEqual(dots[1].error_y.array, [0.01, 0]);
  assert.deepEqual(lines[1].y, [0.9, 0.6]);
  assert.deepEqual(dots[0].x, [1, 2]);
  assert.equal(lines[0].showlegend, false); // one legend entry per c0: the dots'
  assert.equal(layout.shapes.length, 1);
  assert.equal(layout.shapes[0].y0, 0.0297);
  assert.ok(layout.yaxis.range[0] <= -0.05 && layout.yaxis.range[1] === 1.05);
});

test("correlationFigure without predictions (maxout) or c* draws markers only", () => {
  const r = run();
  r.correlation.layers.forEach((l) => (l.predicted = [null, null]));
  r.correlation.fixed_point.c_star = null;
  const { data, layout } = correlationFigure(r);
  assert.ok(data.every((t) => t.mode === "markers"));
  assert.equal(layout.shapes.length, 0);
});

test("meanSquareFigure: measured and predicted on a log axis, non-positive values left out", () => {
  const r = run();
  r.jacobian.layers[0].mean_sq = 0;
  const { data, layout } = meanSquareFigure(r, 1);
  assert.equal(layout.yaxis.type, "log");
  assert.deepEqual(data[0].y, [2.37, 5.6]);
  assert.deepEqual(data[1].y, [null, 5.1]);
  assert.equal(data[1].marker.color, "#d1495b");
});

test("spectrumFigure: one step line per spectrum layer at the bins' centres, as shares of all sigma", () => {
  const { data } = spectrumFigure(run(), 0);
  assert.equal(data.length, 1);
  assert.deepEqual(data[0].x, [-1.5, -0.5, 0.5]);
  assert.deepEqual(data[0].y, [0.25, 0.5, 0.235]);
  assert.equal(data[0].name, "layer 2");
});

test("spectrumRows: the spectrum layers' numbers as printed", () => {
  assert.deepEqual(spectrumRows(run()), [
    { layer: "2", mean_sq: "5.1", predicted: "5.6", var_sq: "30.5", min: "0.01", max: "4", spread: "400", zeros: "3 of 200" },
  ]);
});

test("a layer network's rows are named in hovers, spectrum traces and the table", () => {
  const named = run();
  named.correlation.layers = named.correlation.layers.map((l, j) => ({ ...l, layer_type: "layer_norm", name: `layer ${j + 1} · layer_norm` }));
  named.jacobian.layers = named.jacobian.layers.map((l, j) => ({ ...l, layer_type: "activation", name: `layer ${j + 1} · tanh` }));
  const corr = correlationFigure(named).data.filter((t) => t.mode === "markers");
  assert.deepEqual(corr[0].text, ["layer 1 · layer_norm", "layer 2 · layer_norm"]);
  assert.match(corr[0].hovertemplate, /%\{text\}: measured/);
  assert.deepEqual(meanSquareFigure(named, 0).data.find((t) => t.name === "measured").text, ["layer 1 · tanh", "layer 2 · tanh"]);
  assert.deepEqual(spectrumFigure(named, 0).data.map((t) => t.name), ["layer 2 · tanh"]);
  assert.equal(spectrumRows(named)[0].layer, "layer 2 · tanh");
  assert.equal(spectrumRows(run())[0].layer, "2"); // a plain stack's layer by its number
});

test("shade runs from light to the full colour", () => {
  assert.equal(shade("#2456a6", 2, 3), "#2456a6");
  assert.equal(shade("#000000", 0, 3), "#b3b3b3");
  assert.equal(shade("#2456a6", 0, 1), "#2456a6");
});

test("methodText says exact or randomized", () => {
  assert.equal(methodText(run().jacobian), "Exact SVD of J (all 100 input directions), at 2 sample inputs.");
  assert.match(methodText({ method: "random_subspace", directions: 256, samples: 1 }), /^J restricted to 256 random input directions .* at 1 sample input\.$/);
});

test("seed ensembles: a band per c0 under the markers, and one under the mean square", () => {
  const r = run();
  r.correlation.layers[0] = { ...r.correlation.layers[0], low: [0.1, 0.85], high: [0.12, 0.9] };
  r.correlation.layers[1] = { ...r.correlation.layers[1], low: [0.04, null], high: [0.07, null] };
  r.jacobian.layers = r.jacobian.layers.map((l) => ({ ...l, low: l.mean_sq / 2, high: l.mean_sq * 2 }));
  const { data } = correlationFigure(r);
  const edges = data.filter((t) => t.hoverinfo === "skip");
  assert.equal(edges.length, 4);
  assert.deepEqual(edges[0].y, [0.1, 0.04]);
  assert.deepEqual(edges[1].y, [0.12, 0.07]);
  assert.equal(edges[1].fill, "tonexty");
  assert.equal(data.indexOf(edges[0]) < data.findIndex((t) => t.mode === "markers"), true); // under the dots
  const msq = meanSquareFigure(r, 0).data;
  assert.deepEqual(msq[0].y, [1.1, 2.55]);
  assert.deepEqual(msq[1].y, [4.4, 10.2]);
  assert.equal(msq.find((t) => t.name === "measured").y[1], 5.1);
});

test("band: an invisible lower edge and the upper filled down to it in a light tint", () => {
  const [lo, hi] = band([1, 2], [0, 1], [2, 3], "#2456a6", "g");
  assert.equal(lo.line.width, 0);
  assert.equal(hi.fill, "tonexty");
  assert.equal(hi.fillcolor, "#2456a633");
  assert.equal(lo.legendgroup, "g");
});

const check = {
  widths: [16, 32],
  steps: [0, 1],
  layers: ["hidden 1", "output"],
  curves: [
    { parametrization: "sp", values: [[[1, 1.1], [0.5, 0.6]], [[1, 1.2], [2, 8]]], ratios: [[1.1, 1.2], [1.2, 4]] },
    { parametrization: "mup", values: [[[1, 1.1], [0.5, 0.3]], [[1, 1.05], [0.6, 0.62]]], ratios: [[1.1, 0.6], [1.05, 1.03]] },
  ],
};

test("coordFigure: a log-log panel per step and parametrization, a line per layer", async () => {
  const { coordFigure } = await import("../../static/js/diagnostics-figure.js");
  const { data, layout } = coordFigure(check);
  assert.equal(data.length, 2 * 2 * 2);
  assert.deepEqual(data[0].x, [16, 32]);
  assert.deepEqual(data[1].y, [0.5, 0.6]); // SP, initialization, output
  assert.equal(data[2].xaxis, "x2"); // SP, step 1
  assert.deepEqual(data[3].y, [2, 8]);
  assert.equal(data[7].yaxis, "y4"); // muP, step 1, output
  assert.deepEqual(data[7].y, [0.6, 0.62]);
  assert.equal(layout.xaxis.type, "log");
  assert.deepEqual(layout.xaxis.tickvals, [16, 32]);
  assert.equal(layout.yaxis4.type, "log");
  assert.equal(data.filter((t) => t.showlegend).length, 2);
  assert.deepEqual(layout.annotations.map((a) => a.text), ["initialization", "step 1"]);
  assert.deepEqual([layout.grid.rows, layout.grid.columns], [2, 2]);
});

test("coordFigure narrow: a row per step, a column per parametrization", async () => {
  const { coordFigure } = await import("../../static/js/diagnostics-figure.js");
  const wide = { ...check, steps: [0, 1, 2] };
  wide.curves = wide.curves.map((c) => ({ ...c, values: [...c.values, c.values[1]] }));
  const { data, layout } = coordFigure(wide, true);
  assert.deepEqual([layout.grid.rows, layout.grid.columns], [3, 2]);
  assert.equal(data[2].xaxis, "x3"); // SP, step 1: second row, first column
  assert.equal(data[6].xaxis, "x2"); // muP, initialization: first row, second column
  assert.deepEqual(layout.annotations.map((a) => a.text), ["standard (SP)", "μP"]);
  assert.equal(layout.yaxis3.title.text, "step 1");
});

test("coordSummary: widest/narrowest after training, the hidden layers' range and the output's largest", async () => {
  const { coordSummary } = await import("../../static/js/diagnostics-figure.js");
  assert.equal(coordSummary(check), "standard (SP): hidden layers 1.2 to 1.2, output up to 4 · μP: hidden layers 1.05 to 1.05, output up to 1.03");
});

test("formFields_keep_a_refused_links_values_then_its_presets_then_the_defaults", () => {
  const defaults = { c0: "0.1,0.5,0.9", pairs: "8", seeds: "1", jacobian: "2" };
  assert.deepEqual(formFields("run=relu,he_normal&pairs=999&c0=0.2,0.7", defaults), {
    c0: "0.2,0.7", pairs: "999", seeds: "1", jacobian: "2",
  });
  const presets = [{ name: "p", query: "preset=x&c0=0.3&jacobian=4" }];
  assert.deepEqual(formFields("preset=p&seeds=40", defaults, presets), { c0: "0.3", pairs: "8", seeds: "40", jacobian: "4" });
  assert.deepEqual(formFields("", {}), { c0: "", pairs: "", seeds: "", jacobian: "" });
});

test("refusedKey_names_a_form_field_only", () => {
  assert.equal(refusedKey([{ loc: ["query", "pairs"], msg: "x" }]), "pairs");
  assert.equal(refusedKey([{ loc: ["query", "runs", 0, "depth"], msg: "x" }]), null);
  assert.equal(refusedKey("a string detail"), null);
  assert.equal(refusedKey(undefined), null);
});

test("formDefaults_and_shareOf_read_the_catalog_and_the_link", () => {
  const keys = [{ name: "c0", default: [0.1, 0.5] }, { name: "pairs", default: 8 }];
  assert.deepEqual(formDefaults(keys), { c0: "0.1,0.5", pairs: "8" });
  assert.equal(shareOf("depth=3&run=relu,he_normal&c0=0.2&pairs=9&seeds=2&jacobian=0"), "depth=3&run=relu,he_normal");
  assert.equal(shareOf("preset=poole-tanh-correlation&pairs=999"), "preset=poole-tanh-correlation");
});
