// The console: sign-in, the header, hash routing, live updates.
import { render } from "../vendor/preact.mjs";
import { useEffect, useRef, useState } from "../vendor/hooks.mjs";
import { clearToken, get, getToken, request, setToken, whenUnauthorized } from "./api.js";
import { Live, MODES, socketUrl } from "./live.js";
import { html, ProblemMessage, useSubmit } from "./ui.js";
import { ProjectList, ProjectCreate } from "./projects.js";
import { ProjectPage } from "./project.js";
import { Applications, Clusters, MyInvites } from "./admin.js";

// #/projects/payments-api/members -> ["projects", "payments-api", "members"]
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const onChange = () => setRoute(parseHash());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

let live = null; // one connection per signed-in session

function SignIn({ onSignedIn, reason }) {
  const [token, setTokenText] = useState("");
  const { busy, problem, run } = useSubmit();
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const { data } = await request("GET", "/auth/me", { token: token.trim() });
      setToken(token.trim());
      onSignedIn(data);
    });
  };
  return html`<main id="main" class="signin" tabindex="-1">
    <h1>Sign in to Tenantry</h1>
    ${reason ? html`<p class="notice" role="status">${reason}</p>` : null}
    <form onSubmit=${submit} class="card">
      <div class="field">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required
          aria-describedby="token-hint" value=${token} onInput=${(e) => setTokenText(e.target.value)} />
        <p class="hint" id="token-hint">An API token (<code>tnt_…</code>, from <code>POST /user-tokens</code>),
          or, where the platform accepts OIDC, an access token (JWT) from its identity provider.
          It is kept in this tab only (sessionStorage) and sent only to this site.</p>
      </div>
      <${ProblemMessage} problem=${problem} />
      <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
    </form>
  </main>`;
}

function LiveIndicator({ mode }) {
  const text = mode === MODES.live ? "Live" : mode === MODES.polling ? "Polling" : "Connecting";
  const title =
    mode === MODES.live
      ? "Changes arrive over the WebSocket as they happen"
      : "The WebSocket is not connected: pages refresh by polling";
  return html`<span class=${`live live-${mode}`} title=${title} data-live-mode=${mode}>
    <span aria-hidden="true">●</span> ${text}
  </span>`;
}

// The routes live in the hash, so the skip link moves focus itself instead of going to #main.
function skipToMain(e) {
  e.preventDefault();
  const main = document.getElementById("main");
  if (main) main.focus();
}

function Header({ me, mode, onSignOut, current }) {
  const link = (href, label, key) =>
    html`<li><a href=${href} aria-current=${current === key ? "page" : undefined}>${label}</a></li>`;
  return html`<header class="top">
    <a class="skip" href="#main" onClick=${skipToMain}>Skip to content</a>
    <span class="brand">Tenantry</span>
    <nav aria-label="Main">
      <ul>
        ${link("#/projects", "Projects", "projects")}
        ${link("#/applications", "Applications", "applications")}
        ${link("#/invites", "My invites", "invites")}
        ${me.is_admin ? link("#/clusters", "Clusters", "clusters") : null}
      </ul>
    </nav>
    <div class="who">
      <${LiveIndicator} mode=${mode} />
      <span>${me.display_name}${me.is_admin ? html` <span class="badge badge-neutral">platform admin</span>` : null}</span>
      <button type="button" class="link" onClick=${onSignOut}>Sign out</button>
    </div>
  </header>`;
}

function Routed({ route, me }) {
  const [first, second, third] = route.parts;
  if (!first || first === "projects") {
    if (second === "new") return html`<${ProjectCreate} me=${me} />`;
    if (second) return html`<${ProjectPage} me=${me} projectId=${second} tab=${third || "overview"} live=${live} />`;
    return html`<${ProjectList} me=${me} query=${route.query} live=${live} />`;
  }
  if (first === "applications") return html`<${Applications} me=${me} />`;
  if (first === "clusters") return html`<${Clusters} me=${me} />`;
  if (first === "invites") return html`<${MyInvites} me=${me} />`;
  return html`<main id="main" tabindex="-1"><h1>Not found</h1><p>No page at this address. <a href="#/projects">Projects</a></p></main>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [checking, setChecking] = useState(Boolean(getToken()));
  const [reason, setReason] = useState(null);
  const [mode, setMode] = useState(MODES.connecting);
  const route = useRoute();
  const mainFocus = useRef(route);

  const signOut = (why) => {
    clearToken();
    if (live) live.stop();
    live = null;
    setMe(null);
    setReason(typeof why === "string" ? why : null);
  };

  useEffect(() => {
    whenUnauthorized(() => signOut("Your token is no longer accepted (revoked, expired or deactivated). Sign in again."));
    if (getToken()) {
      get("/auth/me").then(
        (data) => {
          setMe(data);
          setChecking(false);
        },
        () => {
          setChecking(false);
        },
      );
    }
  }, []);

  // One WebSocket per session; pages fall back to polling while it is not open.
  useEffect(() => {
    if (!me) return undefined;
    live = new Live({ url: socketUrl(location, getToken()) });
    const off = live.onMode(setMode);
    live.start();
    return () => {
      off();
      if (live) live.stop();
    };
  }, [me]);

  // After navigation, focus goes to the page's heading for keyboard and screen reader users.
  useEffect(() => {
    if (mainFocus.current === route) return;
    mainFocus.current = route;
    const t = setTimeout(() => {
      const h1 = document.querySelector("main h1");
      if (h1) {
        h1.setAttribute("tabindex", "-1");
        h1.focus();
      }
    }, 0);
    return () => clearTimeout(t);
  }, [route]);

  if (checking) return html`<main id="main"><p role="status">Signing in…</p></main>`;
  if (!me) {
    return html`<${SignIn} reason=${reason} onSignedIn=${(data) => {
      setReason(null);
      setMe(data);
      if (!location.hash || location.hash === "#/") location.hash = "#/projects";
    }} />`;
  }
  return html`<${Header} me=${me} mode=${mode} onSignOut=${() => signOut(null)} current=${route.parts[0] || "projects"} />
    <${Routed} route=${route} me=${me} />`;
}

render(html`<${App} />`, document.getElementById("app"));
