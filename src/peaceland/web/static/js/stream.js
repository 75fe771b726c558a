// The live alert stream (SSE) with its connection state.
//
// While the connection drops, the browser reconnects by itself and sends Last-Event-ID: the
// server replays what was missed, without gap or duplicate. If the browser gives up (an HTTP
// error while the server restarts), a new EventSource is opened after a pause; it carries no
// Last-Event-ID, so every (re)open also calls `onOpen`, which re-reads the recent alerts and
// merges them by sequence: nothing is lost either way.

const RETRY_MS = 2000;

export class AlertStream {
  constructor(url, { onAlert, onState, onOpen }) {
    this.url = url;
    this.onAlert = onAlert;
    this.onState = onState;
    this.onOpen = onOpen;
    this.source = null;
    this.retry = null;
  }

  start() {
    this.onState("connecting");
    this.#connect();
  }

  #connect() {
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener("alert", (event) => {
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
      this.onState("live");
      this.onOpen();
    });
    source.addEventListener("error", () => {
      this.onState("reconnecting");
      if (source.readyState === EventSource.CLOSED && this.retry === null) {
        source.close();
        this.retry = setTimeout(() => {
          this.retry = null;
          this.#connect();
        }, RETRY_MS);
      }
    });
  }
}
