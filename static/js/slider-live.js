// Requests while a slider moves: the newest value wins. Pure (no DOM): `send` and the clock are
// injected, so node's tests drive it.
//
// One request is in flight at a time; a newer value waits in a single slot (it replaces the value
// waiting there, so nothing queues), and goes out the moment the answer comes, before that answer
// is drawn. A request overtaken by a newer value is cancelled (its AbortController) when it has
// run longer than `patience` (twice the recent answer time, at least `minPatience`), or at once
// when the newer value is a commit (the drag ended, a field changed, a preset): a slow answer
// never holds back the value the visitor is on. Patience keeps a drag alive: cancelling at every
// input event would cancel every request on a server slower than the mouse.

/** An error that says a request was superseded: pages drop it silently (like a fetch abort). */
export const superseded = () => new DOMException("superseded by a newer value", "AbortError");

export class LatestOnly {
  /**
   * `send(request, signal)` returns a promise of the answer; `now()` reads a clock in ms;
   * `later(fn, ms)` / `cancelLater(id)` schedule the patience check (setTimeout by default).
   */
  constructor({
    send,
    now = () => performance.now(),
    later = (fn, ms) => setTimeout(fn, ms), // not setTimeout itself: a browser's needs its window
    cancelLater = (id) => clearTimeout(id),
    minPatience = 250,
  }) {
    Object.assign(this, { send, now, later, cancelLater, minPatience });
    this.current = null; // { key, controller, sentAt, owner }: the request in flight
    this.pending = null; // the newest live request not sent yet
    this.last = null; // { key, result }: the latest answer (the one drawn)
    this.latency = 0; // recent answer time, ms
    this.timer = null;
    this.aborted = 0; // requests cancelled in flight, for the page's own record
  }

  patience() {
    return Math.max(this.minPatience, 2 * this.latency);
  }

  /**
   * Ask for `request` ({ key, commit, ... }: `key` names its value; `commit` is a value to keep,
   * not one passed on the way). Resolves with the answer; rejects with an AbortError when a newer
   * request took its place (drop it), or with the request's own error. The request records its
   * `sentAt` and `answeredAt` (ms) and `reused` (answered without a new request).
   */
  submit(request) {
    return new Promise((resolve, reject) => {
      const entry = { request, resolve, reject };
      this.dropPending();
      const { current } = this;
      if (current?.key === request.key) {
        // Its value is on its way already: the newer request takes over the answer.
        current.owner.reject(superseded());
        current.owner = entry;
        request.sentAt = current.sentAt;
        return;
      }
      if (request.commit) {
        this.abortCurrent();
        if (this.last?.key === request.key) {
          request.sentAt = request.answeredAt = this.now();
          request.reused = true;
          resolve(this.last.result);
        } else this.start(entry);
        return;
      }
      if (!current) {
        if (this.last?.key === request.key) reject(superseded()); // already drawn
        else this.start(entry);
        return;
      }
      this.pending = entry;
      this.checkPatience();
    });
  }

  /** Send the waiting value if the request in flight has run past its patience; else look again
   * when it will have. */
  checkPatience() {
    this.cancelLater(this.timer);
    this.timer = null;
    if (!this.pending || !this.current) return;
    const waited = this.now() - this.current.sentAt;
    if (waited >= this.patience()) {
      this.latency = Math.max(this.latency, waited); // it was at least this slow
      const next = this.pending;
      this.pending = null;
      this.abortCurrent();
      this.start(next);
    } else {
      this.timer = this.later(() => this.checkPatience(), this.patience() - waited);
    }
  }

  dropPending() {
    this.pending?.reject(superseded());
    this.pending = null;
  }

  abortCurrent() {
    if (!this.current) return;
    const { controller, owner } = this.current;
    this.current = null;
    this.aborted += 1;
    controller.abort();
    owner.reject(superseded());
  }

  start(entry) {
    const { request } = entry;
    const controller = new AbortController();
    const flight = { key: request.key, controller, sentAt: this.now(), owner: entry };
    request.sentAt = flight.sentAt;
    this.current = flight;
    this.send(request, controller.signal).then(
      (result) => this.settle(flight, () => {
        this.last = { key: flight.key, result };
        const took = this.now() - flight.sentAt;
        this.latency = this.latency ? 0.7 * this.latency + 0.3 * took : took;
        flight.owner.request.answeredAt = this.now();
        return () => flight.owner.resolve(result);
      }),
      (error) => this.settle(flight, () => () => flight.owner.reject(error)),
    );
  }

  /** An answer (or error) of `flight`: ignored if it was cancelled; else the waiting value goes
   * out first, then the owner hears of it. */
  settle(flight, record) {
    if (this.current !== flight) return; // cancelled: its owner already knows
    this.current = null;
    const tell = record();
    const next = this.pending;
    this.pending = null;
    this.cancelLater(this.timer);
    this.timer = null;
    if (next) this.start(next);
    tell();
  }
}
