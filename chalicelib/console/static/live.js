// Live updates: one long poll of the change feed (GET /v1/changes) for the whole console; pages subscribe.

import { ApiError, get } from "./api.js";

const WAIT_SECONDS = 20;
const RETRY_MS = [1000, 2000, 5000, 10000];

export class ChangeFeed {
  constructor(onState) {
    this.listeners = new Set();
    this.onState = onState;
    this.controller = null;
  }

  // `listener(changes)` gets each batch of changes; `listener(null)` when changes were missed and pages must reload.
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start() {
    this.stop();
    this.controller = new AbortController();
    this.run(this.controller.signal);
  }

  stop() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  emit(changes) {
    for (const listener of this.listeners) {
      try { listener(changes); } catch (error) { console.error("a live listener failed", error); }
    }
  }

  async run(signal) {
    let cursor = "now"; // from the head: what the pages loaded already is the past
    let failures = 0;
    this.onState("connecting");
    while (!signal.aborted) {
      try {
        // The head first, at once: from then on nothing is missed, and the console can say it is live.
        const wait = cursor === "now" ? 0 : WAIT_SECONDS;
        const answer = await get("/v1/changes", { after: cursor, wait, limit: 200 }, signal);
        cursor = answer.next_cursor;
        failures = 0;
        this.onState("live");
        if (answer.items.length) this.emit(answer.items);
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && error.code === "cursor_expired") {
          cursor = "now";
          this.emit(null);
          continue;
        }
        if (error instanceof ApiError && error.status === 401) return; // signed out: the app stops the feed
        this.onState(error instanceof ApiError && error.status === 404 ? "unavailable" : "reconnecting");
        await sleep(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)], signal);
      }
    }
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
