// node --test tests/js: the figures' pure functions (static/js/figures.js), on synthetic results
// shaped like the API's: every number printed must be the API's value to the precision shown.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  count,
  fmt,
  gridFigure,
  hiddenValues,
  lastLayers,
  layerRows,
  overlayFigure,
  pct,
  phaseFigure,
  ridgelineFigure,
  signalFigure,
  statsLine,
  theoryNotes,
} from "../../static/js/figures.js";

// ---- synthetic API results -----------------------------------------------------------------

const linspace = (lo, hi, n) => [...Array(n + 1).keys()].map((i) => lo + ((hi - lo) * i) / n);

/** One tensor's statistics as the API sends them: 30 bins over [lo, hi]. */
function tensor({ lo = -1, hi = 1, counts = null, std = 0.5, mean = 0, below = 0, above = 0, nan = 0, sat = null, zero_fraction = 0 } = {}) {
  const c = counts ?? [...Array(30).keys()].map((i) => 100 + i);
  const total = c.reduce((a, b) => a + b, 0) + below + above + nan;
  return {
    count: total, mean, std, edges: linspace(lo, hi, c.length), counts: c,
    below, above, nan_count: nan, inf_count: 0, saturated_fraction: sat, zero_fraction,
  };
}

function layer(j, { post = {}, pre = {}, grad = {}, theory = { q: 1, z_std: 1, std: 0.5, gradient_scale: 1 }, distinct = 100 } = {}) {
  return {
    layer: j + 1, units: 100, dead_units: 0, distinct_units: distinct,
    post: tensor(post), pre: tensor(pre), grad: tensor(grad), theory,
    weight_grad: { grad_data_ratio: 163.78 },
  };
}

function run(label, depth, { note = "", layers = null } = {}) {
  return {
    label, phase: "critical",
    theory: { note, sigma_w2: Array(depth).fill(2), sigma_b2: 0 },
    layers: layers ?? [...Array(depth).keys()].map((j) => layer(j)),
  };
}

const annotationTexts = (fig) => fig.layout.annotations.map((a) => a.text);

// ---- numbers -------------------------------------------------------------------------------

test("fmt_keeps_the_zeros_of_integers", () => {
  assert.equal(fmt(100.33), "100");
  assert.equal(fmt(120), "120");
  assert.equal(fmt(250), "250");
  assert.equal(fmt(1000), "1000");
  assert.equal(fmt(-200), "-200");
});

test("fmt_rounds_to_three_significant_digits_without_trailing_decimal_zeros", () => {
  assert.equal(fmt(0.8218103), "0.822");
  assert.equal(fmt(1.405), "1.41");
  assert.equal(fmt(1.5), "1.5");
  assert.equal(fmt(2.0000001), "2");
  assert.equal(fmt(0.0012345), "0.00123");
  assert.equal(fmt(1234.5), "1235");
  assert.equal(fmt(999.7), "1000"); // rounded first: never "1.00e+3"
});

test("fmt_writes_very_large_and_small_values_as_exponents", () => {
  assert.equal(fmt(3.9706672716685645e-41), "3.97e-41");
  assert.equal(fmt(0.00073), "7.3e-4");
  assert.equal(fmt(1e-5), "1e-5");
  assert.equal(fmt(12345), "1.23e+4");
  assert.equal(fmt(9999.7), "1e+4");
  assert.equal(fmt(-2.5e30), "-2.5e+30");
});

test("fmt_of_zero_missing_and_non_finite", () => {
  assert.equal(fmt(0), "0");
  assert.equal(fmt(null), "–");
  assert.equal(fmt(undefined), "–");
  assert.equal(fmt(NaN), "NaN");
  assert.equal(fmt(Infinity), "∞");
});

test("count_reads_5k_15k_1_2M", () => {
  assert.equal(count(5000), "5k");
  assert.equal(count(15000), "15k");
  assert.equal(count(1.2e6), "1.2M");
  assert.equal(count(51234), "51.2k");
  assert.equal(count(256000), "256k");
  assert.equal(count(999), "999");
  assert.equal(count(999_999), "1M"); // not "1000k"
  assert.equal(count(0), "0");
});

test("pct_never_rounds_to_0_or_100_percent_unless_exact", () => {
  assert.equal(pct(0), "0%");
  assert.equal(pct(1), "100%");
  assert.equal(pct(0.0004), "<0.1%");
  assert.equal(pct(0.9996), ">99.9%");
  assert.equal(pct(0.99949), "99.9%");
  assert.equal(pct(0.9994), "99.9%");
  assert.equal(pct(0.23573), "24%");
  assert.equal(pct(0.05), "5.0%");
  assert.equal(pct(null), "–");
});

// ---- statistics lines ----------------------------------------------------------------------

test("statsLine_prints_the_apis_values", () => {
  const l = layer(0, { pre: { std: 100.33, mean: 120 }, post: { std: 250, sat: 0.72 } });
  assert.equal(statsLine(l, "pre"), "σ 100 · mean 120");
  assert.equal(statsLine(l, "post"), "σ 250 · sat 72% · dead 0");
  assert.equal(statsLine(l, "post", true), "σ 250 · sat 72%");
});

test("statsLine_of_gradients_leaves_out_distinct_units", () => {
  const l = layer(0, { distinct: 3 });
  assert.match(statsLine(l, "post"), /distinct 3/);
  assert.match(statsLine(l, "pre"), /distinct 3/);
  assert.doesNotMatch(statsLine(l, "grad"), /distinct/);
  assert.equal(statsLine(l, "grad"), "σ 0.5 · dW:W 164");
});

test("statsLine_says_what_lies_outside_the_range", () => {
  const l = layer(0, { post: { lo: 0, hi: 1, above: 23_573, counts: Array(30).fill(2547) } });
  assert.equal(l.post.count, 99_983);
  assert.match(statsLine(l, "post"), /· 24% > 1$/);
});

// ---- values outside the histogram ----------------------------------------------------------

test("hiddenValues_reports_below_above_and_non_finite", () => {
  const t = tensor({ lo: 0, hi: 1, counts: Array(30).fill(2000), below: 5000, above: 30_000, nan: 5000 });
  assert.deepEqual(hiddenValues(t).map((h) => [h.side, h.text]), [
    ["below", "5.0% < 0"],
    ["above", "30% > 1"],
    ["nonfinite", "5.0% not finite"],
  ]);
  assert.deepEqual(hiddenValues(tensor()), []);
});

/** ReLU He with range=0,1: 23,573 of 100,000 values of layer 1 lie above 1. */
function rangedResult() {
  const counts = Array(30).fill(0).map((_, i) => (i === 0 ? 50_000 : remaining(i)));
  function remaining(i) {
    return i < 29 ? 913 : 26_427 - 913 * 28;
  }
  // ReLU He's activations: 50,000 exact zeros in the first bin
  const clipped = (j) => layer(j, { post: { lo: 0, hi: 1, counts, above: 23_573, zero_fraction: 0.5 } });
  return { runs: [run("relu, He", 2, { layers: [clipped(0), clipped(1)] }), run("tanh, Xavier", 2)] };
}

test("gridFigure_marks_values_beyond_the_range_in_every_subplot", () => {
  const result = rangedResult();
  assert.equal(result.runs[0].layers[0].post.count, 100_000);
  for (const compact of [false, true]) {
    const notes = gridFigure(result, { compact }).layout.annotations.filter((a) => a.text.endsWith("▸"));
    assert.equal(notes.length, 2, "one note per clipped subplot (layer 1 and 2 of run 1)");
    assert.equal(notes[0].text, "24% > 1 ▸");
    assert.equal(notes[0].xref, "x1 domain");
    assert.equal(notes[0].x, 1);
  }
});

test("gridFigure_marks_values_below_the_range_at_the_left_edge", () => {
  const low = layer(0, { post: { lo: 0, hi: 1, below: 500 } });
  const fig = gridFigure({ runs: [run("r", 1, { layers: [low] })] });
  const note = fig.layout.annotations.find((a) => a.text.startsWith("◂"));
  assert.ok(note, annotationTexts(fig).join(" | "));
  assert.equal(note.x, 0);
  assert.match(note.text, /< 0$/);
});

test("overlayFigure_and_ridgelineFigure_mark_values_beyond_the_range", () => {
  const result = rangedResult();
  assert.equal(annotationTexts(overlayFigure(result)).filter((t) => t === "24% > 1 ▸").length, 2);
  const ridgeNotes = annotationTexts(ridgelineFigure(result)).filter((t) => t.includes("24% > 1"));
  assert.equal(ridgeNotes.length, 2);
  const hovers = ridgelineFigure(result).data.map((t) => t.text);
  assert.ok(hovers[0].includes("24% > 1"));
});

test("gridFigure_tells_an_all_nan_layer", () => {
  const nan = layer(0, { post: { counts: Array(30).fill(0), nan: 100_000, std: null } });
  const texts = annotationTexts(gridFigure({ runs: [run("exploded", 1, { layers: [nan] })] }));
  assert.ok(texts.includes("100% not finite"), texts.join(" | "));
});

test("gridFigure_count_axes_read_like_count_not_0_5e_plus_4", () => {
  const fig = gridFigure(rangedResult());
  assert.equal(fig.layout.yaxis.exponentformat, "SI");
  assert.equal(fig.layout.xaxis.exponentformat, "e"); // values may reach 1e30: plain "e", no <sup>
  const spike = fig.layout.annotations.find((a) => a.text.startsWith("▲"));
  assert.equal(spike.text, "▲ 50k (50k zeros)");
  // the cut bar is drawn pale, the others in the run's colour
  const colors = fig.data[0].marker.color;
  assert.notEqual(colors[0], colors[1]);
  assert.equal(new Set(colors.slice(1)).size, 1);
});

test("gridFigure_never_cuts_a_bar_that_is_tall_because_values_crowd_there", () => {
  // a vanished gradient: 82% of the values in the centre bin, none of them exactly 0
  const result = rangedResult();
  result.runs[0].layers[0].post.zero_fraction = 0;
  const fig = gridFigure(result);
  assert.equal(fig.layout.yaxis.range, undefined); // the axis reaches the tallest bar
  assert.ok(!fig.layout.annotations.some((a) => a.text.startsWith("▲") && a.xref === "x1"));
});

// ---- zeros and non-finite values on log axes -----------------------------------------------

function signalResult(gradStds, postStds = [0.8, 0.6, 0.4]) {
  const layers = postStds.map((s, j) => layer(j, { post: { std: s }, grad: { std: gradStds[j] } }));
  return { runs: [run("relu, He", layers.length, { layers })] };
}

test("signalFigure_draws_a_zero_std_at_the_axis_floor_and_says_why", () => {
  const fig = signalFigure(signalResult([0.1, 0, 0]));
  const grad = fig.data.find((t) => t.name === "relu, He: gradient");
  const positive = fig.data.flatMap((t) => t.y).filter((v) => v > 0);
  const floor = grad.y[1];
  assert.ok(floor > 0, "a log axis needs a positive place");
  assert.ok(floor < Math.min(...positive.filter((v) => v !== floor)), "below every measured value");
  assert.equal(grad.y[2], floor);
  assert.deepEqual(grad.marker.symbol, ["triangle-up", "triangle-down-open", "triangle-down-open"]);
  assert.equal(grad.text[1], "layer 2: σ = 0 (drawn at the axis floor: log scale has no 0)");
  assert.equal(grad.text[0], "layer 1: σ 0.1");
  assert.match(grad.hovertemplate, /%\{text\}/);
  assert.ok(annotationTexts(fig).some((t) => t.includes("drawn at the floor")));
  // the floor's tick reads 0, not a decade no value has
  const { tickvals, ticktext } = fig.layout.yaxis;
  assert.equal(tickvals[0], floor);
  assert.equal(ticktext[0], "0");
  assert.ok(ticktext.includes("0.1") && ticktext.includes("1"), ticktext.join(" "));
});

test("signalFigure_draws_a_non_finite_std_at_the_top_marked_exploded", () => {
  const fig = signalFigure(signalResult([0.1, 0.2, 0.3], [0.8, 1e20, null]));
  const post = fig.data.find((t) => t.name === "relu, He: activation");
  assert.ok(post.y[2] > 1e20, "above every measured value");
  assert.equal(post.marker.symbol[2], "triangle-up-open");
  assert.equal(post.text[2], "layer 3: exploded (not finite)");
  assert.equal(fig.layout.yaxis.ticktext.at(-1), "NaN/∞");
  assert.ok(fig.layout.yaxis.ticktext.includes("1e20"));
});

test("signalFigure_without_zeros_keeps_the_axis_and_markers_plain", () => {
  const fig = signalFigure(signalResult([0.1, 0.2, 0.3]));
  const grad = fig.data.find((t) => t.name === "relu, He: gradient");
  assert.deepEqual(grad.y, [0.1, 0.2, 0.3]);
  assert.deepEqual(annotationTexts(fig), []);
  assert.equal(fig.layout.yaxis.tickvals, undefined); // plotly's own decades
});

// ---- theory only where it applies ----------------------------------------------------------

const NOTE = "mean field assumes zero-mean biases: a constant bias shifts z, which it does not model";

test("theoryNotes_lists_the_runs_whose_theory_does_not_apply", () => {
  const result = { runs: [run("relu, He", 2, { note: NOTE }), run("tanh", 2), run("leaky", 2, { note: NOTE })] };
  assert.deepEqual(theoryNotes(result), [
    { run: 0, label: "relu, He", note: NOTE },
    { run: 2, label: "leaky", note: NOTE },
  ]);
  assert.deepEqual(theoryNotes({ runs: [{ label: "no theory", layers: [] }] }), []);
});

test("gridFigure_draws_no_theory_curve_for_a_run_with_a_note", () => {
  const result = { runs: [run("dead", 2, { note: NOTE }), run("fine", 2)] };
  const curves = gridFigure(result, { kind: "pre" }).data.filter((t) => t.type === "scatter");
  assert.deepEqual(curves.map((t) => t.xaxis), ["x2", "x4"], "only the second run's subplots");
});

test("signalFigure_draws_no_theory_lines_for_a_run_with_a_note", () => {
  const result = { runs: [run("dead", 2, { note: NOTE }), run("fine", 2)] };
  const names = signalFigure(result).data.map((t) => t.name);
  assert.deepEqual(names.filter((n) => n.startsWith("dead")), ["dead: activation", "dead: z", "dead: gradient"]);
  assert.ok(names.includes("fine: activation, theory"));
});

// ---- overlay legend ------------------------------------------------------------------------

test("overlayFigure_legend_sits_inside_the_figure_above_the_plots", () => {
  const fig = overlayFigure(rangedResult());
  const { legend, margin, height } = fig.layout;
  assert.notEqual(legend.yref, "container"); // there y = 1 put it above the SVG: invisible
  assert.equal(legend.yanchor, "bottom");
  const above = (legend.y - 1) * (height - margin.t - margin.b); // px from the plots' top to its foot
  assert.ok(above > 16 && above < margin.t - 20, `legend foot ${above}px over the plots, margin ${margin.t}`);
  assert.equal(fig.data.filter((t) => t.showlegend).length, 2, "one entry per run");
});

// ---- ridgeline scales ----------------------------------------------------------------------

/** deep-relu-compare's layer 50: std 0.01 puts every value in the first bin; He half of them. */
function collapsedResult() {
  const collapsed = Array(30).fill(0);
  collapsed[0] = 256_000;
  const he = [140_000, ...Array(29).fill(4000)];
  const at = (counts, std) => [layer(0, { post: { lo: 0, hi: 5.4, counts, std } })];
  return { runs: [run("relu, N(0, 0.01²)", 1, { layers: at(collapsed, 3.97e-41) }), run("relu, He", 1, { layers: at(he, 0.689) })] };
}

test("ridgelineFigure_labels_each_ridge_with_its_std", () => {
  const texts = annotationTexts(ridgelineFigure(collapsedResult()));
  assert.ok(texts.includes("σ 3.97e-41"), texts.join(" | "));
  assert.ok(texts.includes("σ 0.689"));
});

test("ridgelineFigure_common_scale_and_log_counts", () => {
  const top = (fig, i) => Math.max(...fig.data[i].y);
  const own = ridgelineFigure(collapsedResult());
  assert.equal(top(own, 0), top(own, 1), "each ridge to its own peak: the same height");
  const common = ridgelineFigure(collapsedResult(), { scale: "common" });
  assert.ok(Math.abs(top(common, 1) - (1.6 * 140_000) / 256_000) < 1e-9);
  const log = ridgelineFigure(collapsedResult(), { logY: true });
  const tail = (fig) => fig.data[1].y[4]; // the He ridge's second bin
  assert.ok(tail(log) > 3 * tail(own), "log counts lift the He tail");
  assert.ok(annotationTexts(common).some((t) => t.includes("one scale for all ridges")));
});

// ---- layers of runs of different depths ----------------------------------------------------

test("layerRows_default_is_unchanged", () => {
  assert.deepEqual(layerRows(5), [0, 1, 2, 3, 4]);
  assert.deepEqual(layerRows(20), [0, 3, 6, 9, 12, 15, 18, 19]);
  assert.deepEqual(layerRows(20, "from-11"), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  assert.deepEqual(layerRows(50, "all").length, 50);
});

test("layerRows_keeps_each_runs_last_layer", () => {
  const rows = layerRows(20, "auto", 10, [1, 19]);
  assert.ok(rows.includes(1) && rows.includes(19));
  assert.ok(rows.length <= 10);
  assert.deepEqual(rows, [...rows].sort((a, b) => a - b));
  // too many last layers for 10 rows at a stride of 3: the stride widens, the last layers stay
  const many = layerRows(50, "auto", 10, [4, 10, 22, 34]);
  assert.ok([4, 10, 22, 34, 49].every((j) => many.includes(j)));
  assert.ok(many.length <= 10, String(many));
});

test("gridFigure_default_rows_show_a_shallow_runs_last_layer_and_label_every_row", () => {
  const result = { runs: [run("depth 2", 2), run("depth 20", 20)] };
  assert.deepEqual(lastLayers(result), [1, 19]);
  const { layout } = gridFigure(result);
  const titles = Object.keys(layout).filter((k) => k.startsWith("yaxis")).map((k) => layout[k].title?.text).filter(Boolean);
  assert.ok(titles.includes("layer 2"), titles.join(", "));
  const rows = layerRows(20, "auto", 10, [1, 19]);
  assert.deepEqual(titles, rows.map((j) => `layer ${j + 1}`), "every row labelled, once");
  // a row the first run lacks is labelled on the second run's axis, which is visible
  const k = rows.indexOf(19) * 2 + 2;
  assert.equal(layout[`yaxis${k}`].title.text, "layer 20");
  assert.notEqual(layout[`yaxis${k}`].visible, false);
});

// ---- phase diagram -------------------------------------------------------------------------

function diagram({ wMax = 4, critical = null } = {}) {
  const sigmaW = linspace(wMax / 100, wMax, 99);
  const sigmaB = linspace(0, 1, 99);
  return {
    activation: "sigmoid", q0: 1, sigma_w: sigmaW, sigma_b: sigmaB,
    log10_chi: sigmaB.map(() => sigmaW.map((w) => Math.log10(w / 10))),
    critical_sigma_w: sigmaB.map(() => critical),
    bistable: sigmaB.map(() => sigmaW.map(() => false)),
  };
}

const sigmoidStd1 = { run: { label: "sigmoid, N(0, 1)", phase: "ordered", theory: { note: "", sigma_w2: [100, 100], sigma_b2: 0 } }, index: 0 };

test("phaseFigure_axes_reach_every_marked_run", () => {
  const fig = phaseFigure(diagram({ wMax: 4 }), [sigmoidStd1]);
  assert.ok(fig.layout.xaxis.range[1] >= 10, `σw range ${fig.layout.xaxis.range}`);
  const marker = fig.data.find((t) => t.mode === "markers+text");
  assert.equal(marker.x[0], 10);
  assert.equal(marker.cliponaxis, false); // σb = 0 sits on the axis: drawn whole
});

test("phaseFigure_lists_the_critical_line_only_when_drawn", () => {
  const none = phaseFigure(diagram({ critical: null }), [sigmoidStd1]);
  assert.ok(!none.data.some((t) => t.name === "critical: χ = 1"));
  const some = phaseFigure(diagram({ wMax: 12, critical: 10.15 }), [sigmoidStd1]);
  assert.ok(some.data.some((t) => t.name === "critical: χ = 1"));
});

test("phaseFigure_has_a_chi_key_without_plotlys_colour_bar", () => {
  const fig = phaseFigure(diagram(), [sigmoidStd1]);
  // plotly's colour bar gives its rects style attributes, which the pages' CSP refuses
  assert.ok(fig.data.every((t) => !t.showscale));
  assert.equal(fig.layout.shapes.length, 16, "one rect per quarter decade of χ");
  const labels = annotationTexts(fig);
  for (const chi of ["0.01", "0.1", "1", "10", "100", "χ"]) assert.ok(labels.includes(chi), chi);
  const fills = fig.layout.shapes.map((s) => s.fillcolor);
  assert.match(fills[0], /^rgb\(\d+,\d+,\d+\)$/);
  const rgb = (c) => c.match(/\d+/g).map(Number);
  assert.ok(rgb(fills[0])[2] > rgb(fills[0])[0], "blue where χ < 1");
  assert.ok(rgb(fills.at(-1))[0] > rgb(fills.at(-1))[2], "red where χ > 1");
  assert.ok(Math.min(...rgb(fills[8])) > 230, "nearly white at χ = 1");
});

// ---- hover -----------------------------------------------------------------------------------

test("hovers_name_each_bin_with_numpys_closed_last_bin", () => {
  const result = { runs: [run("r", 1)] };
  const bar = gridFigure(result).data[0];
  assert.deepEqual(bar.customdata[0].slice(2), [")"]);
  assert.deepEqual(bar.customdata.at(-1), [bar.customdata.at(-1)[0], 1, "]"]);
  const step = overlayFigure(result).data[0];
  assert.equal(step.customdata.length, step.x.length);
  assert.deepEqual(step.customdata.at(-1), step.customdata.at(-2), "the closing point hovers the last bin");
  assert.match(step.hovertemplate, /^\[%\{customdata\[0\]:\.4~g\}, %\{customdata\[1\]:\.4~g\}%\{customdata\[2\]\}: %\{y\}/);
});
