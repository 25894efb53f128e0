// A preset's claim beside its figure: what the text says, where to look, and what the product
// measured, with a verdict. The claim is data from the catalog (app/claims.py), asserted by tests
// against the preset's own output, so this box never repeats a text the numbers contradict.

export const VERDICTS = {
  holds: "Holds",
  "holds in part": "Holds in part",
  contradicted: "Contradicted",
};

/** Fill `box` with `claim` ({text, source, look_at, verdict, reason, units_layer}) of the experiment
 * `share`; hide it for null. */
export function renderClaim(box, claim, share = "") {
  box.hidden = !claim;
  if (!claim) {
    box.replaceChildren();
    return;
  }
  const line = (cls, ...parts) => {
    const p = document.createElement("p");
    p.className = cls;
    p.append(...parts);
    return p;
  };
  const strong = (text) => Object.assign(document.createElement("strong"), { textContent: text });
  const quote = Object.assign(document.createElement("q"), { textContent: claim.text });
  const source = Object.assign(document.createElement("span"), { className: "hint", textContent: ` (${claim.source})` });
  const verdict = Object.assign(document.createElement("span"), {
    className: "verdict",
    textContent: VERDICTS[claim.verdict] ?? claim.verdict,
  });
  verdict.dataset.verdict = claim.verdict;
  const look = line("claim-look", strong("Look at: "), claim.look_at);
  if (claim.units_layer) {
    const href = `/units?${share}&layer=${claim.units_layer}`;
    const link = Object.assign(document.createElement("a"), { href, textContent: `layer ${claim.units_layer} unit by unit` });
    look.append(" See ", link, ".");
  }
  box.replaceChildren(
    line("claim-text", strong("The text says: "), quote, source),
    look,
    line("claim-verdict", strong("Measured: "), verdict, " ", claim.reason),
  );
  box.dataset.verdict = claim.verdict;
}
