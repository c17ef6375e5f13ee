// Small shared pieces: html (htm bound to Preact), problem messages, badges, forms.
import { h } from "../vendor/preact.mjs";
import { useCallback, useEffect, useRef, useState } from "../vendor/hooks.mjs";
import htm from "../vendor/htm.mjs";

export const html = htm.bind(h);

// A problem as people read it: title, detail, each field error, the request id to quote.
export function ProblemMessage({ problem }) {
  if (!problem) return null;
  const fields = problem.fieldMessages ? problem.fieldMessages() : [];
  return html`<div class="problem" role="alert">
    <p class="problem-title"><strong>${problem.title}</strong>${problem.status ? html` <span class="muted">(${problem.status})</span>` : null}</p>
    ${problem.detail ? html`<p class="problem-detail">${problem.detail}</p>` : null}
    ${fields.length ? html`<ul class="problem-fields">${fields.map((f) => html`<li>${f}</li>`)}</ul>` : null}
    ${problem.requestId ? html`<p class="muted small">Request id: <code>${problem.requestId}</code></p>` : null}
  </div>`;
}

const BADGE = {
  active: "ok", Running: "ok", Done: "ok", accepted: "ok", approved: "ok", Ready: "ok", Created: "ok", True: "ok",
  creating: "busy", deleting: "busy", Installing: "busy", Upgrading: "busy", Renaming: "busy",
  Uninstalling: "busy", Deleting: "busy", Started: "busy", Pending: "busy", pending: "busy",
  requested: "busy", leave_requested: "busy", uninitialized: "busy", Creating: "busy", Updating: "busy",
  failed: "bad", Error: "bad", Failed: "bad", denied: "bad", rejected: "bad", False: "bad",
  suspended: "warn", terminated: "warn", Canceled: "warn", cancelled: "warn",
};

// A status as text in a coloured pill (the text carries the meaning, not the colour).
export function Badge({ value }) {
  const kind = BADGE[value] || "neutral";
  return html`<span class=${`badge badge-${kind}`} data-value=${value}>${String(value)}</span>`;
}

export function Field({ label, id, hint, children }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children}
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
  </div>`;
}

// State for a form's async submit: busy flag, problem, and a runner that records both.
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const run = useCallback(async (fn) => {
    setBusy(true);
    setProblem(null);
    try {
      return await fn();
    } catch (err) {
      setProblem(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, problem, setProblem, run };
}

// Load data once (and again when deps change or reload() is called).
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, problem: null, loading: true });
  const [tick, setTick] = useState(0);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    let current = true;
    fn().then(
      (data) => current && setState({ data, problem: null, loading: false }),
      (problem) => current && setState((s) => ({ data: s.data, problem, loading: false })),
    );
    return () => {
      current = false;
    };
  }, [...deps, tick]);
  useEffect(() => () => (alive.current = false), []);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function Loading({ what }) {
  return html`<p class="muted" role="status">Loading ${what}…</p>`;
}

export function when(iso) {
  if (!iso) return "";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// Textual form helpers: "a, b" -> ["a","b"]; "k=v, k2=v2" -> {k: v, k2: v2}.
export function splitList(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

export function parseLabels(text) {
  const out = {};
  for (const pair of splitList(text)) {
    const i = pair.indexOf("=");
    if (i < 1) throw new Error(`a label is key=value: "${pair}"`);
    out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}

// A problem made in the browser (input that cannot even be sent), shown like the API's.
export function localProblem(title, detail) {
  return { title, detail, status: 0, fieldMessages: () => [] };
}

export function parseJson(text, what) {
  try {
    return JSON.parse(text || "{}");
  } catch (err) {
    throw localProblem(`${what} is not valid JSON`, String(err.message || err));
  }
}

// Keep a page fresh: while the WebSocket is live, reload when an event of the project
// (or any, without projectId) arrives; otherwise poll every pollMs.
export function useLiveRefresh(live, projectId, reload, pollMs = 2000) {
  const [mode, setMode] = useState(live ? live.mode : "polling");
  useEffect(() => (live ? live.onMode(setMode) : undefined), [live]);
  useEffect(() => {
    if (live && mode === "live") {
      return live.subscribe((detail) => {
        if (!projectId || detail.project_id === projectId) reload();
      });
    }
    if (!pollMs) return undefined;
    const timer = setInterval(reload, pollMs);
    return () => clearInterval(timer);
  }, [live, mode, projectId, reload, pollMs]);
  return mode;
}
