/** What every page does the same way: its message box and its Copy link button. */

/** Show `text` in the page's #message box ("error" or "info"); empty text hides it. */
export function showMessage(text, kind = "error") {
  const box = document.getElementById("message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

/** Copy the address bar (always the page's share link). */
export async function copyLink() {
  try {
    await navigator.clipboard.writeText(location.href);
    showMessage("Link copied.", "info");
  } catch {
    // No clipboard (insecure context or denied): show the link to copy by hand.
    showMessage(location.href, "info");
  }
}

/**
 * Fetch with `load`, then `draw` the answer; the page is busy meanwhile (body[data-busy]). A
 * request superseded by a newer one (AbortError) is dropped; any other failure is shown as
 * `what: reason.`, followed by `hint` while nothing is drawn yet (`drawn` false: a bad link) or by
 * `still` once something is (what the page still shows), then `failed()` runs; the page is marked
 * ready (body[data-ready]) so a visitor, or a test, sees the message.
 */
export async function loadAndDraw(load, draw, { what, hint, drawn, still = "", failed = () => {} }) {
  document.body.dataset.busy = "1";
  try {
    await draw(await load());
  } catch (err) {
    if (err.name === "AbortError") return;
    const after = drawn() ? still : hint;
    showMessage(`${what}: ${err.message}.${after ? ` ${after}` : ""}`);
    failed(err);
    document.body.dataset.ready = "1";
  } finally {
    delete document.body.dataset.busy;
  }
}

/** A new element with properties and children. */
export const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
