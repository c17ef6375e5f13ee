// Live updates: the realtime WebSocket at same-origin /ws?token=..., with polling as the
// fallback whenever the socket is not open (it failed to connect, was closed, or the
// server has no WebSocket). Protocol: the server sends
//   {"type": "event", "source": "tenantry", "detail_type": "...", "detail": {id, project_id, seq, ...}}
// per lifecycle event the caller may see, and answers {"action": "ping"} with {"type": "pong"}.
// Delivery is at least once: events are de-duplicated on detail.id.

export const MODES = { connecting: "connecting", live: "live", polling: "polling" };

export function socketUrl(location, token) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`;
}

export class Live {
  // opts: url, WebSocket (constructor; injectable for tests), pingMs, retryMs (first
  // reconnect delay, doubled up to maxRetryMs), timers ({setTimeout, clearTimeout,
  // setInterval, clearInterval}), remember (how many event ids to keep for de-duplication).
  constructor(opts) {
    this.url = opts.url;
    this.WebSocket = opts.WebSocket || globalThis.WebSocket;
    this.pingMs = opts.pingMs ?? 30000;
    this.retryMs = opts.retryMs ?? 5000;
    this.maxRetryMs = opts.maxRetryMs ?? 60000;
    this.timers = opts.timers || globalThis;
    this.remember = opts.remember ?? 1000;
    this.mode = MODES.connecting;
    this.seen = new Set();
    this.seenOrder = [];
    this.listeners = new Set();
    this.modeListeners = new Set();
    this.socket = null;
    this.stopped = false;
    this.nextRetry = this.retryMs;
    this.pingTimer = null;
    this.retryTimer = null;
  }

  // fn(detail, detailType) for every new event; returns an unsubscribe function.
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onMode(fn) {
    this.modeListeners.add(fn);
    fn(this.mode);
    return () => this.modeListeners.delete(fn);
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    for (const fn of this.modeListeners) fn(mode);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    let socket;
    try {
      socket = new this.WebSocket(this.url);
    } catch {
      this.fallBack();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.nextRetry = this.retryMs;
      this.setMode(MODES.live);
      this.pingTimer = this.timers.setInterval(() => this.send({ action: "ping" }), this.pingMs);
    };
    socket.onmessage = (msg) => {
      if (this.socket === socket) this.handle(msg.data);
    };
    socket.onerror = () => {}; // onclose follows and decides
    socket.onclose = () => {
      if (this.socket === socket) this.fallBack();
    };
  }

  // The socket failed or closed: poll meanwhile, and try the socket again later.
  fallBack() {
    this.clearPing();
    this.socket = null;
    this.setMode(MODES.polling);
    if (this.stopped) return;
    this.retryTimer = this.timers.setTimeout(() => this.connect(), this.nextRetry);
    this.nextRetry = Math.min(this.nextRetry * 2, this.maxRetryMs);
  }

  send(obj) {
    if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(obj));
  }

  // One text message from the server. Returns the event's detail when it was new (and
  // handed to the listeners), else null (a pong, a duplicate, anything unknown or broken).
  handle(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return null;
    }
    if (!msg || typeof msg !== "object" || msg.type !== "event") return null;
    const detail = msg.detail;
    if (!detail || typeof detail !== "object" || typeof detail.id !== "string") return null;
    if (this.seen.has(detail.id)) return null;
    this.seen.add(detail.id);
    this.seenOrder.push(detail.id);
    if (this.seenOrder.length > this.remember) this.seen.delete(this.seenOrder.shift());
    for (const fn of this.listeners) fn(detail, msg.detail_type || "");
    return detail;
  }

  clearPing() {
    if (this.pingTimer !== null) this.timers.clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  stop() {
    this.stopped = true;
    this.clearPing();
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
  }
}
