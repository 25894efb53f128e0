// The phase diagram coloured by xi_c: its grid, scale, key and caption; chi's stays as it was.

import assert from "node:assert/strict";
import { test } from "node:test";

import { PHASE_COLORINGS, phaseCaption, phaseColorQuery, phaseFigure, scaleColor } from "../../static/js/phase-figure.js";

const linspace = (lo, hi, n) => [...Array(n).keys()].map((i) => lo + ((hi - lo) * i) / (n - 1));

function diagram() {
  const sigmaW = linspace(0.04, 4, 20);
  const sigmaB = linspace(0, 1, 10);
  return {
    activation: "tanh", q0: 1, sigma_w: sigmaW, sigma_b: sigmaB,
    log10_chi: sigmaB.map(() => sigmaW.map((w) => Math.log10(w / 1.4))),
    critical_sigma_w: sigmaB.map(() => 1.4),
    bistable: sigmaB.map(() => sigmaW.map(() => false)),
    color: "xi_c",
    c_star: sigmaB.map(() => sigmaW.map((w) => (w < 1.4 ? 1 : 0.3))),
    // null where the map has no fixed point (the first column here)
    log10_xi_c: sigmaB.map(() => sigmaW.map((w, j) => (j === 0 ? null : 2 - Math.abs(w - 1.4)))),
  };
}

const run = { run: { label: "tanh, Xavier", phase: "ordered", theory: { note: "", sigma_w2: [1, 1], sigma_b2: 0.09 } }, index: 0 };
const rgb = (c) => c.match(/\d+/g).map(Number);
const texts = (fig) => fig.layout.annotations.map((a) => a.text);

test("phaseFigure_xi_c_draws_the_xi_c_grid_on_its_own_scale", () => {
  const d = diagram();
  const fig = phaseFigure(d, [run], "xi_c");
  const contour = fig.data[0];
  assert.equal(contour.z, d.log10_xi_c);
  assert.deepEqual([contour.zmin, contour.zmax], [-1, 3]);
  assert.equal(contour.colorscale, PHASE_COLORINGS.xi_c.colors);
  assert.equal(contour.customdata[3][5], 10 ** d.log10_xi_c[3][5], "the hover reads xi_c in layers");
  assert.equal(contour.customdata[3][0], null);
  assert.match(contour.hovertemplate, /ξc %\{customdata:\.3~g\} layers/);
  assert.ok(fig.data.some((t) => t.name === "critical: χ = 1"), "the critical line is kept");
  assert.ok(fig.data.every((t) => !t.showscale));
});

test("phaseFigure_xi_c_key_reads_layers_and_says_where_it_is_long", () => {
  const fig = phaseFigure(diagram(), [run], "xi_c");
  assert.equal(fig.layout.shapes.length, 16, "one rect per quarter decade, 0.1 to 1000 layers");
  const labels = texts(fig);
  for (const label of ["0.1", "1", "10", "100", "1000", "ξc", "layers · longest at χ = 1"]) {
    assert.ok(labels.includes(label), label);
  }
  const side = fig.layout.annotations.find((a) => a.text.startsWith("layers"));
  assert.equal(side.textangle, -90);
  assert.ok(fig.layout.margin.r >= 80, "room for the key's side line");
  const fills = fig.layout.shapes.map((s) => s.fillcolor);
  const light = (c) => rgb(c).reduce((a, b) => a + b, 0);
  assert.ok(light(fills.at(-1)) > light(fills[0]) + 300, "dark where short, bright where long");
});

test("phaseFigure_chi_is_unchanged_by_the_xi_c_grid", () => {
  const d = diagram();
  const chi = phaseFigure(d, [run]);
  assert.equal(chi.data[0].z, d.log10_chi);
  assert.equal(chi.data[0].customdata, undefined);
  assert.ok(texts(chi).includes("χ") && !texts(chi).includes("ξc"));
  assert.equal(chi.layout.margin.r, 64);
  assert.deepEqual(phaseFigure(d, [run], "chi"), chi);
});

test("scaleColor_ends_of_each_scale_are_its_stops", () => {
  assert.equal(scaleColor(PHASE_COLORINGS.xi_c, -5), "rgb(68,1,84)");
  assert.equal(scaleColor(PHASE_COLORINGS.xi_c, 3), "rgb(253,231,37)");
  assert.equal(scaleColor(PHASE_COLORINGS.chi, 0), "rgb(247,247,247)");
});

test("phaseColorQuery_adds_color_only_for_xi_c", () => {
  const base = new URLSearchParams({ activation: "tanh", sigma_w_max: "4" });
  assert.equal(phaseColorQuery(base, "xi_c").toString(), "activation=tanh&sigma_w_max=4&color=xi_c");
  assert.equal(phaseColorQuery(phaseColorQuery(base, "xi_c"), "chi").toString(), base.toString());
  assert.equal(base.has("color"), false, "the query given is left as it was");
});

test("phaseCaption_says_what_xi_c_is_and_where_it_is_long", () => {
  assert.equal(phaseCaption("chi"), "");
  const caption = phaseCaption("xi_c");
  for (const words of ["ξc", "layers", "log scale", "c*", "longest next to the critical line", "Blank"]) {
    assert.ok(caption.includes(words), words);
  }
});
