// node --test tests/js: the optimizers page's figure specs (contour plot view, legend rows, gap chart, the zig-zag).
import assert from "node:assert/strict";
import { test } from "node:test";

import { PLOT_LIMITS, decadeStep, gapsFigure, legendRows, markerSize, pathName, pathsFigure, pathsView, stepPatterns, zigzagFigure } from "../../static/js/paths-figures.js";

const path = (optimizer, label, x, y, diverged_at = null) => ({
  optimizer,
  label,
  params: { lr: 0.1 },
  x,
  y,
  f: x.map(() => 1),
  gap: x.map((_, i) => 10 ** -i),
  diverged_at,
});

// The book's bowl: window 20 x 10, start (-7, 2), the minimum at the origin.
const book = (paths) => ({
  surface: { name: "book", window: [-10, 10, -5, 5], minima: [[0, 0]], defaults: {} },
  config: { start: [-7, 2], steps: 2 },
  contour: { x: [-10, 10], y: [-5, 5], z: [[1, 1], [1, 1]], of: "f" },
  paths: paths ?? [path("sgd", "SGD (lr 0.95)", [-7, -6.3, -5.7], [2, -1.8, 1.6]), path("adam", "Adam (lr 0.3)", [-7, -6.7, -6.4], [2, 1.7, 1.4])],
});

test("markerSize_shrinks_as_paths_get_longer", () => {
  assert.deepEqual([31, 61, 201, 1001].map(markerSize), [6, 4, 3, 2]);
});

test("pathName_says_where_a_path_diverged", () => {
  assert.equal(pathName(path("sgd", "SGD (lr 0.95)", [0], [0])), "SGD (lr 0.95)");
  assert.equal(pathName(path("sgd", "SGD (lr 0.95)", [0], [0], 2)), "SGD (lr 0.95): diverged at step 2");
});

test("legendRows_one_row_when_everything_fits_else_columns_of_the_widest", () => {
  const names = ["minimum", "SGD (lr 0.95)", "Momentum (lr 0.1)", "AdaGrad (lr 1.5)", "Adam (lr 0.3)"];
  assert.equal(legendRows([], 300), 0);
  assert.equal(legendRows(names, 980), 1); // 5 x 60 + 66 x 6.2 = 709 px
  assert.equal(legendRows(names, 568), 2); // the widest is 60 + 17 x 6.2 = 165 px: 3 a row
  assert.equal(legendRows(names, 298), 5); // 1 a row
  assert.equal(legendRows(["a"], 10), 1);
});

test("pathsView_shows_the_whole_window_where_it_is_tall_enough", () => {
  const view = pathsView(book(), 968);
  assert.deepEqual(view, { x: [-10, 10], y: [-5, 5], height: 484, zoomed: false });
  // a tall window is capped
  const tall = { ...book(), surface: { ...book().surface, window: [0, 1, 0, 4] } };
  assert.equal(pathsView(tall, 400).height, PLOT_LIMITS.maxHeight);
});

test("pathsView_zooms_to_the_paths_on_a_phone_with_equal_scales", () => {
  const result = book();
  const view = pathsView(result, 298);
  assert.equal(view.zoomed, true);
  const [x0, x1] = view.x;
  const [y0, y1] = view.y;
  // inside the window, holding the start, the minimum and every point with a margin
  assert.ok(x0 >= -10 && x1 <= 10 && y0 >= -5 && y1 <= 5);
  for (const p of result.paths) p.x.forEach((x, i) => assert.ok(x > x0 && x < x1 && p.y[i] > y0 && p.y[i] < y1));
  assert.ok(x0 < -7 && x1 > 0 && y0 < -1.8 && y1 > 2);
  // at least 3:4, and the height is what equal scales ask for
  assert.ok((y1 - y0) / (x1 - x0) >= PLOT_LIMITS.minAspect - 1e-9);
  assert.equal(view.height, Math.round((298 * (y1 - y0)) / (x1 - x0)));
  assert.ok(view.height > 298 / 2); // the whole window would be 149 px tall
});

test("pathsView_ignores_points_beyond_the_window", () => {
  const far = path("sgd", "SGD (lr 10)", [-7, 900, -1e5], [2, 500, 3e4], 3);
  const view = pathsView(book([far]), 298);
  assert.ok(view.x[1] <= 10 && view.y[1] <= 5);
  assert.ok(view.x[1] - view.x[0] < 12); // only the start and the minimum count
});

test("pathsView_keeps_the_aspect_within_a_window_too_flat_for_it", () => {
  const flat = { ...book(), surface: { ...book().surface, window: [-10, 10, -1, 1] } };
  const view = pathsView(flat, 298);
  assert.deepEqual(view.y, [-1, 1]); // all of the window's height, no more
  assert.ok(view.x[0] >= -10 && view.x[1] <= 10);
});

test("pathsFigure_reserves_the_legend_rows_above_the_plot", () => {
  const result = book();
  for (const width of [366, 1052]) {
    const { layout, data, zoomed } = pathsFigure(result, width);
    const plotWidth = width - layout.margin.l - layout.margin.r;
    const view = pathsView(result, plotWidth);
    const rows = legendRows(["minimum", "SGD (lr 0.95)", "Adam (lr 0.3)"], plotWidth);
    assert.equal(layout.margin.t, 26 + 19 * rows);
    assert.equal(layout.height, view.height + layout.margin.t + layout.margin.b);
    assert.deepEqual(layout.xaxis.range, view.x);
    assert.deepEqual(layout.yaxis.range, view.y);
    assert.equal(layout.yaxis.scaleanchor, "x");
    assert.equal(layout.legend.yanchor, "bottom");
    assert.ok(layout.legend.y >= 1); // above the plot area, never on it
    assert.equal(zoomed, view.zoomed);
    assert.deepEqual(data.slice(2).map((t) => t.marker.size), [6, 6]);
  }
  assert.equal(pathsFigure(result, 366).zoomed, true);
  assert.equal(pathsFigure(result, 1052).zoomed, false);
});

test("decadeStep_labels_decades_at_most_seven_times", () => {
  assert.equal(decadeStep([[10, 1, 0.1, 1e-3]]), 1);
  assert.equal(decadeStep([[1e5, 1], [1e-25, 0, Number.NaN]]), 5); // 30 decades; zero and NaN skipped
  assert.equal(decadeStep([[0]]), 1);
  assert.equal(decadeStep([]), 1);
});

test("gapsFigure_sets_its_y_title_beside_the_tick_labels", () => {
  const { layout, data } = gapsFigure(book());
  assert.equal(layout.yaxis.type, "log");
  assert.equal(layout.yaxis.automargin, true);
  assert.ok(layout.yaxis.title.standoff >= 8);
  assert.equal(layout.yaxis.dtick, 1);
  assert.deepEqual(data[0].x, [0, 1, 2]);
  assert.deepEqual(data[0].y, [1, 0.1, 0.01]);
});

// ---- the zig-zag (GET /api/v1/unit-paths) ----

const unitPath = (inputs, w0, w1) => ({ inputs, label: inputs, w0, w1, same_sign: 0, length: 0, straight: 0, detour: 0, arrived: null });
const zigzag = {
  start: [0, 0],
  target: [2, -2],
  near: 0.5,
  config: { steps: 3 },
  paths: [unitPath("positive", [0, 0.5, 0.2, 0.9], [0, 0.3, -0.4, 0.1]), unitPath("centred", [0, 0.4, 0.4, 0.9], [0, -0.5, -0.9, -1])],
};

test("stepPatterns_names_each_steps_sign_pattern", () => {
  assert.deepEqual(stepPatterns(zigzag.paths[0]), ["up", "down", "up"]);
  assert.deepEqual(stepPatterns(zigzag.paths[1]), ["mixed", "none", "mixed"]); // w0 stood still in step 2
});

test("zigzagFigure_marks_every_step_by_its_pattern_side_by_side_or_stacked", () => {
  const wide = zigzagFigure(zigzag, 1000);
  const count = (name) => wide.data.find((t) => t.name === name)?.x.length;
  assert.equal(count("all-positive inputs: both up (+, +)"), 2);
  assert.equal(count("all-positive inputs: both down (−, −)"), 1);
  assert.equal(count("all-positive inputs: one up, one down"), 0);
  assert.equal(count("zero-centred inputs: one up, one down"), 2);
  // side by side on a wide screen, one above the other on a phone; equal scales either way
  assert.ok(wide.layout.xaxis.domain[1] < wide.layout.xaxis2.domain[0]);
  const phone = zigzagFigure(zigzag, 360);
  assert.deepEqual(phone.layout.xaxis.domain, [0, 1]);
  assert.ok(phone.layout.yaxis.domain[0] > phone.layout.yaxis2.domain[1]);
  for (const f of [wide, phone]) assert.equal(f.layout.yaxis2.scaleanchor, "x2");
  // every path's points within the axes' ranges
  const [x0, x1] = wide.layout.xaxis.range;
  assert.ok(zigzag.paths.every((p) => p.w0.every((v) => v > x0 && v < x1)));
});
