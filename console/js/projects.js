// The projects list (filters, paging by cursor) and the create form (Idempotency-Key).
import { useState } from "../vendor/hooks.mjs";
import { enc, get, newIdempotencyKey, request } from "./api.js";
import {
  Badge, Field, html, Loading, ProblemMessage, localProblem, parseLabels, splitList, useLoad, useSubmit, when,
} from "./ui.js";

const STATUSES = ["", "uninitialized", "creating", "active", "suspended", "terminated", "deleting", "deleted", "failed"];
const SORTS = [["", "id (default)"], ["name", "id, ascending"], ["-name", "id, descending"],
  ["created_at", "oldest first"], ["-created_at", "newest first"]];

export function ProjectList({ me, query }) {
  const initial = {
    state: query.get("state") || "",
    label_selector: query.get("label_selector") || "",
    filter_by: query.get("filter_by") || "",
    sort_by: query.get("sort_by") || "",
    mode: query.get("mode") || "",
  };
  const [draft, setDraft] = useState(initial);
  const [filters, setFilters] = useState(initial);
  const [cursors, setCursors] = useState([null]); // the cursor of each page shown so far
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(() => get("/projects", { ...filters, limit: 20, cursor }), [JSON.stringify(filters), cursor]);

  const set = (k) => (e) => setDraft({ ...draft, [k]: e.target.value });
  const apply = (e) => {
    e.preventDefault();
    setFilters(draft);
    setCursors([null]);
  };
  const items = page.data ? page.data.items : [];
  return html`<main id="main" tabindex="-1">
    <div class="title-row">
      <h1>Projects</h1>
      ${me.kind === "user" ? html`<a class="button" href="#/projects/new">Create project</a>` : null}
    </div>
    <form class="filters card" onSubmit=${apply} aria-label="Filter projects">
      <${Field} label="Status" id="f-state">
        <select id="f-state" value=${draft.state} onChange=${set("state")}>
          ${STATUSES.map((s) => html`<option value=${s}>${s || "any live status"}</option>`)}
        </select>
      <//>
      <${Field} label="Label selector" id="f-labels" hint="k=v, k!=v, k, !k">
        <input id="f-labels" value=${draft.label_selector} onInput=${set("label_selector")} aria-describedby="f-labels-hint" />
      <//>
      <${Field} label="Keyword" id="f-keyword" hint="in the name or description">
        <input id="f-keyword" type="search" value=${draft.filter_by} onInput=${set("filter_by")} aria-describedby="f-keyword-hint" />
      <//>
      <${Field} label="Sort" id="f-sort">
        <select id="f-sort" value=${draft.sort_by} onChange=${set("sort_by")}>
          ${SORTS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
        </select>
      <//>
      <${Field} label="Show" id="f-mode">
        <select id="f-mode" value=${draft.mode} onChange=${set("mode")}>
          <option value="">all I can see</option>
          <option value="member">only where I am a member</option>
        </select>
      <//>
      <button type="submit">Apply filters</button>
    </form>
    <${ProblemMessage} problem=${page.problem} />
    ${page.loading && !page.data ? html`<${Loading} what="projects" />` : null}
    ${page.data ? html`<table class="list">
      <caption class="sr-only">Projects, page ${cursors.length}</caption>
      <thead><tr><th scope="col">Project</th><th scope="col">Status</th><th scope="col">Labels</th><th scope="col">Created</th></tr></thead>
      <tbody>
        ${items.length === 0 ? html`<tr><td colspan="4" class="muted">No project matches (a filtered page may be short: follow the next page).</td></tr>` : null}
        ${items.map((p) => html`<tr>
          <td><a href=${`#/projects/${enc(p.id)}`}>${p.name}</a> <span class="muted small">${p.id}</span></td>
          <td><${Badge} value=${p.status} /></td>
          <td>${Object.entries(p.labels || {}).map(([k, v]) => html`<code class="label">${k}=${v}</code> `)}</td>
          <td>${when(p.created_at)}</td>
        </tr>`)}
      </tbody>
    </table>
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
      <span class="muted">Page ${cursors.length}</span>
      <button type="button" disabled=${!page.data.next_cursor} onClick=${() => setCursors([...cursors, page.data.next_cursor])}>Next page</button>
    </nav>` : null}
  </main>`;
}

export function ProjectCreate() {
  const [form, setForm] = useState({ name: "", id: "", description: "", environments: "dev", labels: "", clusters: "", join_policy: "" });
  // One key per intended project: a retry of the same submission (a lost answer, a double
  // click) replays the first answer; a changed form gets a new key.
  const [key, setKey] = useState(newIdempotencyKey());
  const { busy, problem, setProblem, run } = useSubmit();
  const set = (k) => (e) => {
    setForm({ ...form, [k]: e.target.value });
    setKey(newIdempotencyKey());
  };
  const submit = (e) => {
    e.preventDefault();
    let body;
    try {
      body = { name: form.name };
      if (form.id) body.id = form.id;
      if (form.description) body.description = form.description;
      if (form.environments.trim()) body.environments = splitList(form.environments);
      if (form.labels.trim()) body.labels = parseLabels(form.labels);
      if (form.clusters.trim()) body.clusters = splitList(form.clusters).map((name) => ({ name, quota: {} }));
      if (form.join_policy) body.join_policy = form.join_policy;
    } catch (err) {
      setProblem(localProblem("The form cannot be sent", err.message));
      return;
    }
    run(async () => {
      const { data } = await request("POST", "/projects", { body, idempotencyKey: key });
      location.hash = `#/projects/${enc(data.id)}`;
    });
  };
  return html`<main id="main" tabindex="-1">
    <h1>Create a project</h1>
    <form class="card" onSubmit=${submit}>
      <${Field} label="Name" id="p-name"><input id="p-name" required maxlength="100" value=${form.name} onInput=${set("name")} /><//>
      <${Field} label="Id (optional)" id="p-id" hint="a DNS label; derived from the name when empty">
        <input id="p-id" value=${form.id} onInput=${set("id")} aria-describedby="p-id-hint" />
      <//>
      <${Field} label="Description" id="p-desc"><textarea id="p-desc" rows="2" value=${form.description} onInput=${set("description")}></textarea><//>
      <${Field} label="Environments" id="p-envs" hint="comma-separated names, e.g. dev, prod">
        <input id="p-envs" value=${form.environments} onInput=${set("environments")} aria-describedby="p-envs-hint" />
      <//>
      <${Field} label="Labels" id="p-labels" hint="key=value, comma-separated">
        <input id="p-labels" value=${form.labels} onInput=${set("labels")} aria-describedby="p-labels-hint" />
      <//>
      <${Field} label="Clusters" id="p-clusters" hint="registered cluster names, comma-separated">
        <input id="p-clusters" value=${form.clusters} onInput=${set("clusters")} aria-describedby="p-clusters-hint" />
      <//>
      <${Field} label="Join policy" id="p-join">
        <select id="p-join" value=${form.join_policy} onChange=${set("join_policy")}>
          <option value="">default (moderated)</option><option value="auto">auto</option>
          <option value="moderated">moderated</option><option value="closed">closed</option>
        </select>
      <//>
      <p class="muted small">Idempotency-Key: <code>${key}</code> (a retry sends the same one)</p>
      <${ProblemMessage} problem=${problem} />
      <button type="submit" disabled=${busy}>${busy ? "Creating…" : "Create project"}</button>
      <a href="#/projects" class="button secondary">Cancel</a>
    </form>
  </main>`;
}
