// Plotly figure specs from an API result: pure functions, no DOM, no fetching. This module is the
// one the pages import; each kind of figure lives in its own module beside it. The standalone
// report inlines them all as one script (app/report.py bundles the imports below).

export { esc, fmt, count, pct } from "./format.js";
export { COLORS, KINDS, theoryNotes } from "./plot-base.js";
export { firstOutputRow, lastLayers, layerRows, layerChoices, rowCount, typedRows } from "./layers.js";
export { hiddenValues, statsLine, spikeClip, gridFigure, overlayFigure, predictedDensity } from "./histograms.js";
export { ridgelineFigure } from "./ridgeline.js";
export { signalFigure } from "./signal.js";
export { phaseFigure } from "./phase-figure.js";
export { distributionFigure } from "./distribution.js";

import { gridFigure, overlayFigure } from "./histograms.js";
import { ridgelineFigure } from "./ridgeline.js";
import { signalFigure } from "./signal.js";
import { distributionFigure } from "./distribution.js";

export const VIEWS = {
  grid: gridFigure,
  overlay: overlayFigure,
  ridgeline: ridgelineFigure,
  distribution: distributionFigure,
  signal: signalFigure,
};
