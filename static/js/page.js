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
