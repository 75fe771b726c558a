// The live alert stream (SSE) with its connection state.
//
// While the connection drops, the browser reconnects by itself and sends Last-Event-ID: the
// server replays what was missed, without gap or duplicate. If the browser gives up (an HTTP
// error while the server restarts, or a 401 once the login session has ended), `onGiveUp` is
// called and a new EventSource is opened after a pause unless `stop()` was called meanwhile;
// it carries no Last-Event-ID, so every (re)open also calls `onOpen`, which re-reads the
// recent alerts and merges them by sequence: nothing is lost either way.
//
// The stream authenticates with the session cookie (same origin): it is started only once
// logged in, and stopped when the session ends.

const RETRY_MS = 2000;

export class AlertStream {
  constructor(url, { onAlert, onState, onOpen, onGiveUp = () => {} }) {
    this.url = url;
    this.onAlert = onAlert;
    this.onState = onState;
    this.onOpen = onOpen;
    this.onGiveUp = onGiveUp;
    this.source = null;
    this.retry = null;
  }

  start() {
    this.stop();
    this.onState("connecting");
    this.#connect();
  }

  stop() {
    clearTimeout(this.retry);
    this.retry = null;
    if (this.source !== null) {
      this.source.close();
      this.source = null;
    }
  }

  #connect() {
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener("alert", (event) => {
      if (source !== this.source) return;
      let alert;
      try {
        alert = JSON.parse(event.data);
      } catch {
        return;
      }
      if (alert === null || typeof alert !== "object") return;
      alert.seq = Number(event.lastEventId);
      this.onAlert(alert);
    });
    source.addEventListener("open", () => {
      if (source !== this.source) return;
      this.onState("live");
      this.onOpen();
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      this.onState("reconnecting");
      if (source.readyState === EventSource.CLOSED && this.retry === null) {
        source.close();
        this.retry = setTimeout(() => {
          this.retry = null;
          if (this.source === source) this.#connect();
        }, RETRY_MS);
        this.onGiveUp();
      }
    });
  }
}
