// A training's progress arrives as increments (what is new since the last event); this rebuilds
// the result so far from them. Pure: no DOM, no fetching.

/** The progress so far after `increment`, given the progress before it (null at the start).
 * Arrays of each run (loss curves, records, captures) are appended; everything else is the
 * increment's (status, steps). Neither argument is changed. */
export function mergeProgress(before, increment) {
  return { ...increment, runs: increment.runs.map((run, i) => mergeRun(before?.runs[i], run)) };
}

function mergeRun(before, run) {
  if (!before) return run;
  const records = {};
  for (const [key, values] of Object.entries(run.records)) records[key] = before.records[key].concat(values);
  return {
    ...run,
    loss: before.loss.concat(run.loss),
    loss_smoothed: before.loss_smoothed.concat(run.loss_smoothed),
    records,
    captures: before.captures.concat(run.captures),
  };
}
