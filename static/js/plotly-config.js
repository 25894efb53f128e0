// Runs after plotly.min.js: per-plot hover styles cannot be injected under the pages' CSP
// (plotly.js falls back to event listeners), so its warnings about them are noise.
window.Plotly.setPlotConfig({ logging: 0 });
