// Applications (the platform admins' queue, or your own), clusters (platform admins) and
// the invites addressed to you.
import { useState } from "../vendor/hooks.mjs";
import { all, del, enc, get, post, request } from "./api.js";
import { Badge, Field, html, Loading, ProblemMessage, useLoad, useSubmit, when } from "./ui.js";

export function Applications({ me }) {
  const [state, setState] = useState("pending");
  const apps = useLoad(() => all("/applications", me.is_admin ? { state } : {}), [state]);
  const act = useSubmit();
  const decide = (a, action) => act.run(async () => {
    await request("POST", `/projects/${enc(a.project_id)}/actions`, { body: { action, app_id: a.id } });
    apps.reload();
  });
  return html`<main id="main" tabindex="-1">
    <h1>${me.is_admin ? "Applications to decide" : "My applications"}</h1>
    ${me.is_admin ? html`<div class="field inline-field">
      <label for="a-state">State</label>
      <select id="a-state" value=${state} onChange=${(e) => setState(e.target.value)}>
        ${["pending", "approved", "denied", "cancelled", "dismissed", "replaced"].map((s) => html`<option>${s}</option>`)}
      </select>
    </div>` : null}
    <${ProblemMessage} problem=${apps.problem || act.problem} />
    ${apps.loading && !apps.data ? html`<${Loading} what="applications" />` : null}
    <table class="list">
      <thead><tr><th scope="col">Project</th><th scope="col">Type</th><th scope="col">State</th><th scope="col">Changes</th><th scope="col">Created</th><th scope="col">Decision</th></tr></thead>
      <tbody>
        ${apps.data && apps.data.length === 0 ? html`<tr><td colspan="6" class="muted">No application.</td></tr>` : null}
        ${(apps.data || []).map((a) => html`<tr>
          <td><a href=${`#/projects/${enc(a.project_id)}`}>${a.name || a.project_id}</a></td>
          <td>${a.type}</td><td><${Badge} value=${a.state} /></td><td><code class="small">${JSON.stringify(a.changes)}</code></td><td>${when(a.created_at)}</td>
          <td class="actions">
            ${me.is_admin && a.state === "pending" ? html`
              <button type="button" class="small-button" disabled=${act.busy} aria-label=${`Approve ${a.project_id}`} onClick=${() => decide(a, "approve")}>Approve</button>
              <button type="button" class="small-button danger" disabled=${act.busy} aria-label=${`Deny ${a.project_id}`} onClick=${() => decide(a, "deny")}>Deny</button>` : null}
            ${!me.is_admin && a.state === "pending" && a.applicant_id === me.id ? html`<button type="button" class="small-button" onClick=${() => decide(a, "cancel")}>Cancel</button>` : null}
            ${a.state === "denied" && a.applicant_id === me.id ? html`<button type="button" class="small-button" onClick=${() => decide(a, "dismiss")}>Dismiss</button>` : null}
          </td>
        </tr>`)}
      </tbody>
    </table>
  </main>`;
}

export function Clusters({ me }) {
  const clusters = useLoad(() => all("/clusters"), []);
  const [form, setForm] = useState({ name: "", region_name: "" });
  const [token, setToken] = useState(null);
  const { busy, problem, run } = useSubmit();
  const act = useSubmit();
  if (!me.is_admin) {
    return html`<main id="main" tabindex="-1"><h1>Clusters</h1><p>Clusters are managed by platform admins.</p></main>`;
  }
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { name: form.name };
      if (form.region_name) body.region_name = form.region_name;
      const created = await post("/clusters", body);
      setToken({ name: created.name, token: created.agent_token });
      setForm({ name: "", region_name: "" });
      clusters.reload();
    });
  };
  const rotate = (c) => act.run(async () => {
    const r = await post(`/clusters/${enc(c.id)}/agent-token`, undefined);
    setToken({ name: c.name, token: r.agent_token });
  });
  const remove = (c) => act.run(async () => {
    await del(`/clusters/${enc(c.id)}`);
    clusters.reload();
  });
  return html`<main id="main" tabindex="-1">
    <h1>Clusters</h1>
    <${ProblemMessage} problem=${clusters.problem || act.problem} />
    ${token ? html`<div class="notice" role="status">Agent token of <strong>${token.name}</strong> (shown once, give it to the cluster's agent):
      <code class="token">${token.token}</code></div>` : null}
    <table class="list">
      <thead><tr><th scope="col">Name</th><th scope="col">Region</th><th scope="col">Agent</th><th scope="col">Last seen</th><th scope="col">Actions</th></tr></thead>
      <tbody>
        ${clusters.data && clusters.data.length === 0 ? html`<tr><td colspan="5" class="muted">No cluster.</td></tr>` : null}
        ${(clusters.data || []).map((c) => html`<tr>
          <td>${c.name}</td><td>${c.region_name || ""}</td>
          <td>${c.is_ok ? html`<${Badge} value="Ready" />` : html`<${Badge} value="Error" /> <span class="small">${c.not_ok_reason || ""}</span>`}</td>
          <td>${when(c.last_seen_at)}</td>
          <td class="actions">
            <button type="button" class="small-button" disabled=${act.busy} aria-label=${`Rotate token of ${c.name}`} onClick=${() => rotate(c)}>Rotate token</button>
            <button type="button" class="small-button danger" disabled=${act.busy} aria-label=${`Delete cluster ${c.name}`} onClick=${() => remove(c)}>Delete</button>
          </td>
        </tr>`)}
      </tbody>
    </table>
    <form class="card" onSubmit=${submit} aria-labelledby="cl-h">
      <h2 id="cl-h">Register a cluster</h2>
      <${Field} label="Name" id="cl-name"><input id="cl-name" required value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} /><//>
      <${Field} label="Region" id="cl-region"><input id="cl-region" value=${form.region_name} onInput=${(e) => setForm({ ...form, region_name: e.target.value })} /><//>
      <${ProblemMessage} problem=${problem} />
      <button type="submit" disabled=${busy}>Register cluster</button>
    </form>
  </main>`;
}

export function MyInvites() {
  const invites = useLoad(() => get("/invites").then((r) => r.items), []);
  const [codes, setCodes] = useState({});
  const [done, setDone] = useState(null);
  const { busy, problem, run } = useSubmit();
  const accept = (inv) => run(async () => {
    const body = inv.secure ? { code: codes[inv.id] || "" } : {};
    await request("POST", `/invites/${enc(inv.id)}/accept`, { body });
    setDone(`Joined ${inv.target_id}.`);
    invites.reload();
  });
  return html`<main id="main" tabindex="-1">
    <h1>My invites</h1>
    <${ProblemMessage} problem=${invites.problem || problem} />
    ${done ? html`<p role="status">${done}</p>` : null}
    <table class="list">
      <thead><tr><th scope="col">To</th><th scope="col">Roles</th><th scope="col">Expires</th><th scope="col">Accept</th></tr></thead>
      <tbody>
        ${invites.data && invites.data.length === 0 ? html`<tr><td colspan="4" class="muted">No pending invite.</td></tr>` : null}
        ${(invites.data || []).map((inv) => html`<tr>
          <td>${inv.scope} <strong>${inv.target_id}</strong></td><td>${inv.roles.join(", ")}</td><td>${when(inv.expires_at)}</td>
          <td class="actions">
            ${inv.secure ? html`<label class="sr-only" for=${`code-${inv.id}`}>Code for ${inv.target_id}</label>
              <input id=${`code-${inv.id}`} placeholder="code" value=${codes[inv.id] || ""} onInput=${(e) => setCodes({ ...codes, [inv.id]: e.target.value })} />` : null}
            <button type="button" class="small-button" disabled=${busy} onClick=${() => accept(inv)}>Accept</button>
          </td>
        </tr>`)}
      </tbody>
    </table>
  </main>`;
}
