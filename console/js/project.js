// A project's page: overview (status, conditions, actions), history, members, environments
// and secrets, deployments and tasks, Kubernetes resources. Kept fresh by live events or polling.
import { useCallback, useState } from "../vendor/hooks.mjs";
import { all, del, enc, get, newIdempotencyKey, patch, post, request } from "./api.js";
import {
  Badge, Field, html, Loading, ProblemMessage, parseJson, splitList, useLiveRefresh, useLoad, useSubmit, when,
} from "./ui.js";

const TABS = [
  ["overview", "Overview"], ["history", "History"], ["members", "Members"],
  ["environments", "Environments"], ["deployments", "Deployments"], ["resources", "Kubernetes resources"],
];

const ACTION_LABELS = {
  suspend: "Suspend", unsuspend: "Unsuspend", terminate: "Terminate", reinstate: "Reinstate",
  retry: "Retry provisioning", approve: "Approve application", deny: "Deny application",
  cancel: "Cancel application", dismiss: "Dismiss application", delete: "Delete project",
};

export function ProjectPage({ me, projectId, tab, live }) {
  const base = `/projects/${enc(projectId)}`;
  const project = useLoad(async () => {
    const r = await request("GET", base);
    let role = null;
    try {
      const members = await all(`${base}/members`);
      const mine = members.find((m) => m.user_id === me.id);
      role = mine ? mine.role : null;
    } catch {
      role = null; // a tombstone or a platform admin outside the project
    }
    return { ...r.data, role };
  }, [projectId]);
  // Every live event of the project (or every poll) refreshes the project and the open tab.
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => {
    project.reload();
    setTick((t) => t + 1);
  }, [project.reload]);
  const mode = useLiveRefresh(live, projectId, refresh);
  const p = project.data;
  return html`<main id="main" tabindex="-1">
    <p class="crumbs"><a href="#/projects">Projects</a> / ${projectId}</p>
    <div class="title-row">
      <h1>${p ? p.name : projectId}</h1>
      ${p ? html`<${Badge} value=${p.status} />` : null}
    </div>
    ${p ? html`<p class="status-line" role="status" aria-live="polite">Status: <strong data-status=${p.status}>${p.status}</strong>${p.reason ? html` — ${p.reason}` : null}
      <span class="muted small"> (${mode === "live" ? "live" : "refreshing every 2 s"})</span></p>` : null}
    <${ProblemMessage} problem=${project.problem} />
    ${!p && project.loading ? html`<${Loading} what="the project" />` : null}
    ${p ? html`<nav class="tabs" aria-label="Project sections"><ul>
      ${TABS.map(([key, label]) => html`<li><a href=${`#/projects/${enc(projectId)}/${key}`} aria-current=${tab === key ? "page" : undefined}>${label}</a></li>`)}
    </ul></nav>
    <section aria-label=${(TABS.find(([k]) => k === tab) || TABS[0])[1]}>
      ${tab === "overview" ? html`<${Overview} me=${me} project=${p} base=${base} reload=${project.reload} />` : null}
      ${tab === "history" ? html`<${History} base=${base} version=${tick} />` : null}
      ${tab === "members" ? html`<${Members} me=${me} project=${p} base=${base} tick=${tick} />` : null}
      ${tab === "environments" ? html`<${Environments} project=${p} base=${base} />` : null}
      ${tab === "deployments" ? html`<${Deployments} me=${me} project=${p} base=${base} version=${tick} />` : null}
      ${tab === "resources" ? html`<${K8sResources} base=${base} tick=${tick} />` : null}
    </section>` : null}
  </main>`;
}

function Overview({ me, project, base, reload }) {
  const actions = project.allowed_actions || []; // what the API says this caller may ask for
  const { busy, problem, run } = useSubmit();
  const [reclaim, setReclaim] = useState(false);
  const act = (action) => run(async () => {
    if (action === "delete") {
      await request("DELETE", base, { query: { reclaim: reclaim ? "true" : "false" }, ifMatch: project.version });
    } else {
      const body = { action };
      if (["approve", "deny", "cancel", "dismiss"].includes(action) && project.last_application) {
        body.app_id = project.last_application.id;
      }
      await request("POST", `${base}/actions`, { body, ifMatch: project.version });
    }
    reload();
  });
  return html`<div class="grid">
    <div class="card">
      <h2>Actions</h2>
      ${actions.length === 0 ? html`<p class="muted">No action is open to you in this status.</p>` : null}
      <div class="actions">
        ${actions.filter((a) => a !== "delete").map((a) => html`<button type="button" disabled=${busy} onClick=${() => act(a)}>${ACTION_LABELS[a] || a}</button>`)}
      </div>
      ${actions.includes("delete") ? html`<div class="danger-zone">
        <label class="inline"><input type="checkbox" checked=${reclaim} onChange=${(e) => setReclaim(e.target.checked)} /> Reclaim namespaces and images</label>
        <button type="button" class="danger" disabled=${busy} onClick=${() => act("delete")}>Delete project</button>
      </div>` : null}
      <${ProblemMessage} problem=${problem} />
    </div>
    <div class="card">
      <h2>Details</h2>
      <dl class="details">
        <dt>Id</dt><dd><code>${project.id}</code></dd>
        <dt>Description</dt><dd>${project.description || html`<span class="muted">none</span>`}</dd>
        <dt>Your role</dt><dd>${project.role || (me.is_admin ? "platform admin" : "none")}</dd>
        <dt>Environments</dt><dd>${(project.environments || []).join(", ") || "none"}</dd>
        <dt>Clusters</dt><dd>${(project.clusters || []).map((c) => c.name).join(", ") || "none"}</dd>
        <dt>Labels</dt><dd>${Object.entries(project.labels || {}).map(([k, v]) => html`<code class="label">${k}=${v}</code> `)}</dd>
        <dt>Join / leave policy</dt><dd>${project.join_policy} / ${project.leave_policy}</dd>
        <dt>Version</dt><dd>${project.version}</dd>
        <dt>Created</dt><dd>${when(project.created_at)}</dd>
        ${project.last_application ? html`<dt>Last application</dt><dd>${project.last_application.type} <${Badge} value=${project.last_application.state} /></dd>` : null}
      </dl>
    </div>
    <div class="card wide">
      <h2>Conditions</h2>
      <table class="list">
        <thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Since</th></tr></thead>
        <tbody>
          ${(project.conditions || []).length === 0 ? html`<tr><td colspan="5" class="muted">No condition yet.</td></tr>` : null}
          ${(project.conditions || []).map((c) => html`<tr>
            <td>${c.type}</td><td><${Badge} value=${c.status} /></td><td>${c.reason}</td><td>${c.message}</td><td>${when(c.last_transition_time)}</td>
          </tr>`)}
        </tbody>
      </table>
    </div>
  </div>`;
}

function History({ base, version }) {
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(() => get(`${base}/history`, { limit: 50, cursor }), [base, cursor, version]);
  return html`<div class="card">
    <h2>History</h2>
    <${ProblemMessage} problem=${page.problem} />
    ${page.data ? html`<table class="list">
      <thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Actor</th></tr></thead>
      <tbody>${page.data.items.map((i) => html`<tr>
        <td>${when(i.at)}</td><td><code>${i.event}</code></td><td>${i.from || ""}</td><td>${i.to || ""}</td><td class="small">${i.actor}</td>
      </tr>`)}</tbody>
    </table>
    <nav class="pager" aria-label="History pages">
      <button type="button" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
      <button type="button" disabled=${!page.data.next_cursor} onClick=${() => setCursors([...cursors, page.data.next_cursor])}>Next page</button>
    </nav>` : html`<${Loading} what="history" />`}
  </div>`;
}

function Members({ me, project, base, tick }) {
  const users = useLoad(() => all(`${base}/users`), [base, tick]);
  const memberships = useLoad(() => all("/memberships", { project_id: project.id }), [project.id, tick]);
  const apps = useLoad(() => all("/applications", { project_id: project.id }), [project.id, tick]);
  const act = useSubmit();
  const names = Object.fromEntries((users.data || []).map((u) => [u.user_id, u.display_name || u.user_id]));
  const doAction = (m, action) => act.run(async () => {
    await post(`/memberships/${enc(m.id)}/actions`, { action });
    memberships.reload();
    users.reload();
  });
  const decide = (app, action) => act.run(async () => {
    await request("POST", `${base}/actions`, { body: { action, app_id: app.id } });
    apps.reload();
  });
  return html`<div class="grid">
    <div class="card wide">
      <h2>Members</h2>
      <${ProblemMessage} problem=${users.problem} />
      <table class="list">
        <thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">State</th></tr></thead>
        <tbody>${(users.data || []).map((u) => html`<tr><td>${u.display_name || u.user_id}</td><td>${u.role}</td><td><${Badge} value=${u.state} /></td></tr>`)}</tbody>
      </table>
    </div>
    <div class="card wide">
      <h2>Memberships</h2>
      <p class="muted small">The actions shown are the ones the API says you may take (<code>allowed_actions</code>).</p>
      <${ProblemMessage} problem=${memberships.problem || act.problem} />
      <table class="list">
        <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
        <tbody>${(memberships.data || []).map((m) => html`<tr>
          <td>${names[m.user_id] || html`<code>${m.user_id}</code>`}</td><td>${m.role}</td><td><${Badge} value=${m.state} /></td>
          <td class="actions">${m.allowed_actions.map((a) => html`<button type="button" class="small-button" disabled=${act.busy}
            aria-label=${`${a} membership of ${names[m.user_id] || m.user_id}`} onClick=${() => doAction(m, a)}>${a}</button>`)}</td>
        </tr>`)}</tbody>
      </table>
    </div>
    <${Enroll} project=${project} onDone=${() => { memberships.reload(); users.reload(); }} />
    <${Invite} base=${base} />
    <div class="card wide">
      <h2>Applications</h2>
      <${ProblemMessage} problem=${apps.problem} />
      <table class="list">
        <thead><tr><th scope="col">Type</th><th scope="col">State</th><th scope="col">Changes</th><th scope="col">Created</th><th scope="col">Decision</th></tr></thead>
        <tbody>
          ${(apps.data || []).length === 0 ? html`<tr><td colspan="5" class="muted">No application.</td></tr>` : null}
          ${(apps.data || []).map((a) => html`<tr>
            <td>${a.type}</td><td><${Badge} value=${a.state} /></td><td><code class="small">${JSON.stringify(a.changes)}</code></td><td>${when(a.created_at)}</td>
            <td class="actions">${me.is_admin && a.state === "pending" ? html`
              <button type="button" class="small-button" onClick=${() => decide(a, "approve")}>approve</button>
              <button type="button" class="small-button" onClick=${() => decide(a, "deny")}>deny</button>` : null}</td>
          </tr>`)}
        </tbody>
      </table>
    </div>
  </div>`;
}

function Enroll({ project, onDone }) {
  const [who, setWho] = useState("");
  const [role, setRole] = useState("member");
  const [key, setKey] = useState(newIdempotencyKey());
  const [result, setResult] = useState(null);
  const { busy, problem, run } = useSubmit();
  const submit = (e) => {
    e.preventDefault();
    const body = { project_id: project.id, action: "enroll", role };
    if (who.includes("@")) body.email = who.trim();
    else body.user_id = who.trim();
    run(async () => {
      const r = await request("POST", "/memberships", { body, idempotencyKey: key });
      setResult(r.status === 202 ? `Invite sent to ${body.email}.` : "Enrolled.");
      setWho("");
      setKey(newIdempotencyKey());
      onDone();
    });
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="enroll-h">
    <h2 id="enroll-h">Enroll a member</h2>
    <${Field} label="User id or email" id="enroll-who"><input id="enroll-who" required value=${who} onInput=${(e) => { setWho(e.target.value); setKey(newIdempotencyKey()); }} /><//>
    <${Field} label="Role" id="enroll-role">
      <select id="enroll-role" value=${role} onChange=${(e) => setRole(e.target.value)}>
        <option>member</option><option>viewer</option><option>admin</option>
      </select>
    <//>
    <${ProblemMessage} problem=${problem} />
    ${result ? html`<p role="status">${result}</p>` : null}
    <button type="submit" disabled=${busy}>Enroll</button>
  </form>`;
}

function Invite({ base }) {
  const [emails, setEmails] = useState("");
  const [role, setRole] = useState("member");
  const [secure, setSecure] = useState(false);
  const [codes, setCodes] = useState({}); // a secure invite's code: in its creating answer only
  // The project's invites, every status (its owner and admins may list them; others: 403).
  const invites = useLoad(() => all(`${base}/invites`), [base]);
  const { busy, problem, run } = useSubmit();
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const r = await request("PUT", `${base}/invites`, {
        body: { emails: splitList(emails), roles: [role], secure }, idempotencyKey: newIdempotencyKey(),
      });
      setCodes((known) => ({ ...known, ...Object.fromEntries(r.data.items.filter((i) => i.code).map((i) => [i.id, i.code])) }));
      setEmails("");
      invites.reload();
    });
  };
  const revoke = (inv) => run(async () => {
    await del(`/invites/${enc(inv.id)}`);
    invites.reload();
  });
  const listed = invites.data || [];
  return html`<form class="card" onSubmit=${submit} aria-labelledby="invite-h">
    <h2 id="invite-h">Invite by email</h2>
    <${Field} label="Emails" id="inv-emails" hint="comma-separated"><input id="inv-emails" required value=${emails} onInput=${(e) => setEmails(e.target.value)} aria-describedby="inv-emails-hint" /><//>
    <${Field} label="Role" id="inv-role">
      <select id="inv-role" value=${role} onChange=${(e) => setRole(e.target.value)}><option>member</option><option>viewer</option><option>admin</option></select>
    <//>
    <label class="inline"><input type="checkbox" checked=${secure} onChange=${(e) => setSecure(e.target.checked)} /> Secure (a one-time code to pass on)</label>
    <${ProblemMessage} problem=${problem || (invites.problem && invites.problem.status !== 403 ? invites.problem : null)} />
    <button type="submit" disabled=${busy}>Send invites</button>
    ${listed.length ? html`<h3>Invites</h3><ul class="plain" aria-label="Invites">${listed.map((i) => html`<li>${i.email} (${i.roles.join(", ")}): <${Badge} value=${i.status} />
      ${codes[i.id] && i.status === "pending" ? html` code <code>${codes[i.id]}</code> <span class="muted small">(shown once)</span>` : null}
      ${i.status === "pending" ? html` <button type="button" class="small-button" aria-label=${`revoke the invite of ${i.email}`} onClick=${() => revoke(i)}>revoke</button>` : null}</li>`)}</ul>` : null}
  </form>`;
}

function Environments({ project, base }) {
  const envs = useLoad(() => all(`${base}/environments`), [base, (project.environments || []).join()]);
  const [selected, setSelected] = useState(null);
  const [name, setName] = useState("");
  const { busy, problem, run } = useSubmit();
  const create = (e) => {
    e.preventDefault();
    run(async () => {
      await post(`${base}/environments`, { name });
      setName("");
      envs.reload();
    });
  };
  const env = (envs.data || []).find((x) => x.id === selected);
  return html`<div class="grid">
    <div class="card">
      <h2>Environments</h2>
      <${ProblemMessage} problem=${envs.problem} />
      <ul class="plain">${(envs.data || []).map((x) => html`<li>
        <button type="button" class="link" aria-pressed=${selected === x.id} onClick=${() => setSelected(x.id)}>${x.name}</button>
      </li>`)}</ul>
      <form onSubmit=${create}>
        <${Field} label="New environment" id="env-name"><input id="env-name" required value=${name} onInput=${(e) => setName(e.target.value)} /><//>
        <${ProblemMessage} problem=${problem} />
        <button type="submit" disabled=${busy}>Add environment</button>
      </form>
    </div>
    ${env ? html`<${Secrets} base=${`${base}/environments/${enc(env.id)}`} env=${env} />` : html`<div class="card"><p class="muted">Choose an environment to see its secrets.</p></div>`}
  </div>`;
}

function Secrets({ base, env }) {
  const secrets = useLoad(() => all(`${base}/secrets`), [base]);
  const [form, setForm] = useState({ collection: "", name: "", contents: "" });
  const { busy, problem, run } = useSubmit();
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      await post(`${base}/secrets`, form);
      setForm({ collection: form.collection, name: "", contents: "" }); // contents never kept
      secrets.reload();
    });
  };
  return html`<div class="card">
    <h2>Secrets of ${env.name}</h2>
    <p class="muted small">Names only: contents are write-only and never shown.</p>
    <${ProblemMessage} problem=${secrets.problem} />
    <table class="list">
      <thead><tr><th scope="col">Collection</th><th scope="col">Name</th><th scope="col">Version</th></tr></thead>
      <tbody>
        ${(secrets.data || []).length === 0 ? html`<tr><td colspan="3" class="muted">No secret.</td></tr>` : null}
        ${(secrets.data || []).map((s) => html`<tr><td>${s.collection}</td><td>${s.name}</td><td>${s.version}</td></tr>`)}
      </tbody>
    </table>
    <form onSubmit=${submit} aria-labelledby="secret-h">
      <h3 id="secret-h">Add a secret</h3>
      <${Field} label="Collection" id="s-coll"><input id="s-coll" required value=${form.collection} onInput=${set("collection")} /><//>
      <${Field} label="Name" id="s-name"><input id="s-name" required value=${form.name} onInput=${set("name")} /><//>
      <${Field} label="Contents" id="s-contents"><input id="s-contents" type="password" autocomplete="off" required value=${form.contents} onInput=${set("contents")} /><//>
      <${ProblemMessage} problem=${problem} />
      <button type="submit" disabled=${busy}>Add secret</button>
    </form>
  </div>`;
}

function Deployments({ me, project, base, version }) {
  const deps = useLoad(() => all(`${base}/deployments`), [base, version]);
  const tasks = useLoad(() => get(`${base}/deployment-tasks`, { limit: 50 }), [base, version]);
  const act = useSubmit();
  const reload = () => { deps.reload(); tasks.reload(); };
  const toggle = (d) => act.run(async () => { await patch(`${base}/deployments/${enc(d.id)}`, { enabled: !d.enabled }); reload(); });
  const remove = (d) => act.run(async () => { await del(`${base}/deployments/${enc(d.id)}`); reload(); });
  const cancel = (t) => act.run(async () => { await del(`${base}/deployment-tasks/${enc(t.id)}`); reload(); });
  const names = Object.fromEntries((deps.data || []).map((d) => [d.id, d.name || d.release_name]));
  return html`<div class="grid">
    <div class="card wide">
      <h2>Deployments</h2>
      <${ProblemMessage} problem=${deps.problem || act.problem} />
      <table class="list">
        <thead><tr><th scope="col">Release</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Enabled</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          ${(deps.data || []).length === 0 ? html`<tr><td colspan="5" class="muted">No deployment.</td></tr>` : null}
          ${(deps.data || []).map((d) => html`<tr>
            <td>${d.release_name}</td><td><${Badge} value=${d.status} /></td><td>${d.reason || ""}</td><td>${d.enabled ? "yes" : "no"}</td>
            <td class="actions">
              <button type="button" class="small-button" disabled=${act.busy} onClick=${() => toggle(d)}>${d.enabled ? "Disable" : "Enable"}</button>
              <button type="button" class="small-button danger" disabled=${act.busy} onClick=${() => remove(d)}>Delete</button>
            </td>
          </tr>`)}
        </tbody>
      </table>
    </div>
    <${DeploymentCreate} me=${me} project=${project} base=${base} onDone=${reload} />
    <${DeploymentChange} base=${base} deployments=${deps.data || []} onDone=${reload} />
    <div class="card wide">
      <h2>Tasks</h2>
      <${ProblemMessage} problem=${tasks.problem} />
      <table class="list">
        <thead><tr><th scope="col">Deployment</th><th scope="col">Operation</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Execute at</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          ${tasks.data && tasks.data.items.length === 0 ? html`<tr><td colspan="6" class="muted">No task.</td></tr>` : null}
          ${(tasks.data ? tasks.data.items : []).map((t) => html`<tr>
            <td>${names[t.deployment_id] || html`<code class="small">${t.deployment_id.slice(0, 8)}</code>`}</td>
            <td>${Object.keys(t.operation)[0]}</td><td><${Badge} value=${t.status} /></td><td>${t.reason || ""}</td><td>${when(t.execute_at)}</td>
            <td>${t.status === "Pending" ? html`<button type="button" class="small-button" disabled=${act.busy} onClick=${() => cancel(t)}>Cancel</button>` : null}</td>
          </tr>`)}
        </tbody>
      </table>
    </div>
  </div>`;
}

function DeploymentCreate({ me, project, base, onDone }) {
  const envs = useLoad(() => all(`${base}/environments`), [base]);
  const charts = useLoad(() => get("/helm-charts", { available: "true", limit: 100 }).then((r) => r.items), []);
  const clusters = useLoad(async () => {
    if (!me.is_admin) return [];
    const out = [];
    for (const c of project.clusters || []) {
      const page = await get("/clusters", { name: c.name });
      out.push(...page.items);
    }
    return out;
  }, [project.id]);
  const [form, setForm] = useState({ name: "", env_id: "", chart_id: "", cluster_id: "", config: "{}" });
  const { busy, problem, run } = useSubmit();
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const envId = form.env_id || (envs.data && envs.data[0] ? envs.data[0].id : "");
  const chartId = form.chart_id || (charts.data && charts.data[0] ? charts.data[0].id : "");
  const clusterId = form.cluster_id || (clusters.data && clusters.data[0] ? clusters.data[0].id : "");
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const config = parseJson(form.config, "Config");
      const chart = charts.data.find((c) => c.id === chartId);
      const registry = await get(`/helm-registries/${enc(chart.helm_registry_id)}`);
      const body = { kind_id: registry.kind_id, cluster_id: clusterId, env_id: envId, helm_chart_id: chartId, config };
      if (form.name) body.name = form.name;
      await post(`${base}/deployments`, body);
      onDone();
    });
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="dep-h">
    <h2 id="dep-h">New deployment</h2>
    <${Field} label="Environment" id="d-env">
      <select id="d-env" value=${envId} onChange=${set("env_id")}>${(envs.data || []).map((x) => html`<option value=${x.id}>${x.name}</option>`)}</select>
    <//>
    <${Field} label="Chart" id="d-chart">
      <select id="d-chart" value=${chartId} onChange=${set("chart_id")}>${(charts.data || []).map((c) => html`<option value=${c.id}>${c.image_tag}</option>`)}</select>
    <//>
    ${me.is_admin ? html`<${Field} label="Cluster" id="d-cluster">
      <select id="d-cluster" value=${clusterId} onChange=${set("cluster_id")}>${(clusters.data || []).map((c) => html`<option value=${c.id}>${c.name}</option>`)}</select>
    <//>` : html`<${Field} label="Cluster id" id="d-cluster"><input id="d-cluster" required value=${form.cluster_id} onInput=${set("cluster_id")} /><//>`}
    <${Field} label="Name (optional)" id="d-name"><input id="d-name" value=${form.name} onInput=${set("name")} /><//>
    <${Field} label="Config (JSON)" id="d-config" hint="checked against the chart's values UI">
      <textarea id="d-config" rows="3" class="mono" value=${form.config} onInput=${set("config")} aria-describedby="d-config-hint"></textarea>
    <//>
    <${ProblemMessage} problem=${problem} />
    <button type="submit" disabled=${busy || !chartId || !envId}>Create deployment</button>
  </form>`;
}

function DeploymentChange({ base, deployments, onDone }) {
  const [depId, setDepId] = useState("");
  const [config, setConfig] = useState("");
  const { busy, problem, run } = useSubmit();
  const current = deployments.find((d) => d.id === depId) || deployments[0];
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      await patch(`${base}/deployments/${enc(current.id)}`, { config: parseJson(config, "Config") });
      setConfig("");
      onDone();
    });
  };
  if (!current) return null;
  return html`<form class="card" onSubmit=${submit} aria-labelledby="chg-h">
    <h2 id="chg-h">Change a deployment's config</h2>
    <${Field} label="Deployment" id="c-dep">
      <select id="c-dep" value=${current.id} onChange=${(e) => setDepId(e.target.value)}>${deployments.map((d) => html`<option value=${d.id}>${d.release_name}</option>`)}</select>
    <//>
    <${Field} label="New config (JSON)" id="c-config" hint=${`now: ${JSON.stringify(current.config)}`}>
      <textarea id="c-config" rows="3" class="mono" required value=${config} onInput=${(e) => setConfig(e.target.value)} aria-describedby="c-config-hint"></textarea>
    <//>
    <${ProblemMessage} problem=${problem} />
    <button type="submit" disabled=${busy}>Upgrade</button>
  </form>`;
}

function K8sResources({ base, tick }) {
  const res = useLoad(() => all(`${base}/k8s-resources`), [base, tick]);
  const act = useSubmit();
  const [done, setDone] = useState(null);
  const restart = (r) => act.run(async () => {
    const task = await post(`${base}/deployment-tasks`, { deployment_id: r.deployment_id, operation: { RestartK8sResource: { resource_id: r.id } } });
    setDone(`Restart of ${r.kind} ${r.name} queued (task ${task.status}).`);
  });
  return html`<div class="card">
    <h2>Kubernetes resources</h2>
    <p class="muted small">As the clusters' agents report them.</p>
    <${ProblemMessage} problem=${res.problem || act.problem} />
    ${done ? html`<p role="status">${done}</p>` : null}
    <table class="list">
      <thead><tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Updated</th><th scope="col">Actions</th></tr></thead>
      <tbody>
        ${(res.data || []).length === 0 ? html`<tr><td colspan="5" class="muted">No resource reported.</td></tr>` : null}
        ${(res.data || []).map((r) => html`<tr>
          <td>${r.kind}</td><td>${r.name}</td><td>${r.status_color.map((c) => html`<span class=${`badge badge-${c === "success" ? "ok" : c === "danger" ? "bad" : c === "warning" ? "warn" : "neutral"}`}>${c}</span> `)}</td>
          <td>${when(r.last_updated_at)}</td>
          <td>${["Deployment", "StatefulSet"].includes(r.kind) ? html`<button type="button" class="small-button" disabled=${act.busy}
            aria-label=${`Restart ${r.kind} ${r.name}`} onClick=${() => restart(r)}>Restart</button>` : null}</td>
        </tr>`)}
      </tbody>
    </table>
  </div>`;
}
