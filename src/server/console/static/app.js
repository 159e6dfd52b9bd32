// The Sluice web console (docs/console.md): Preact components written with htm tagged templates, loaded as ES
// modules with no build step. Every change goes through the server's REST API with the session cookie and the
// session's CSRF token in X-CSRF-Token; the server applies the role rules, the page only hides what it cannot do.
import { h, render } from './vendor/preact.js';
import { useCallback, useEffect, useRef, useState } from './vendor/preact-hooks.js';
import htm from './vendor/htm.js';
import uPlot from './vendor/uplot.js';

const html = htm.bind(h);

// ---- API ----------------------------------------------------------------------------------------------------

let csrf = '';

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new ApiError(res.status, data?.code ?? 'error', data?.error ?? `HTTP ${res.status}`);
    if (res.status === 401 && onSignedOut) onSignedOut(err.message);
    throw err;
  }
  return data;
}
let onSignedOut = null;
const enc = encodeURIComponent;
const rest = (path) => `/rest/v1${path}`;

// ---- formatting ---------------------------------------------------------------------------------------------

function bytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
function duration(s) {
  if (!s) return '—';
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  return mm ? `${mm}m ${s % 60}s` : `${s}s`;
}
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : '—');
const sumErrors = (e) => Object.values(e ?? {}).reduce((a, b) => a + b, 0);

// ---- routing (hash based: #/tunnels, #/tunnels/ID, #/history, #/keys, #/users, #/users/NAME/keys, ...) ------

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/tunnels');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/tunnels');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash.slice(1).split('/').filter(Boolean).map(decodeURIComponent);
}

/** Polls `load` every `ms` while mounted; returns [data, error, reload]. */
function usePoll(load, ms, deps) {
  const [state, setState] = useState({ data: null, error: null });
  const tick = useCallback(() => {
    load().then(
      (data) => setState({ data, error: null }),
      (error) => setState((s) => ({ data: s.data, error })),
    );
  }, deps);
  useEffect(() => {
    tick();
    const id = setInterval(tick, ms);
    return () => clearInterval(id);
  }, [tick]);
  return [state.data, state.error, tick];
}

function Heading({ children }) {
  const ref = useRef(null);
  useEffect(() => ref.current?.focus(), []);
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`;
}

function ErrorText({ error }) {
  return error ? html`<p class="error" role="alert">${error.message ?? String(error)}</p>` : null;
}

/** A new access key, shown once. */
function SecretKey({ who, accessKey, onDone }) {
  return html`<div class="secret" role="alert">
    <p>
      New access key for <strong>${who}</strong>. It is shown <strong>only this once</strong>: copy it now.
    </p>
    <p><code data-testid="new-key">${accessKey}</code></p>
    <button class="secondary" onClick=${onDone}>I have copied it</button>
  </div>`;
}

// ---- sign-in ------------------------------------------------------------------------------------------------

function SignIn({ onSignedIn, reason }) {
  const [error, setError] = useState(reason ? new Error(reason) : null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    setBusy(true);
    try {
      const s = await api('POST', '/console/api/login', {
        username: String(f.get('username')),
        access_key: String(f.get('access_key')),
      });
      onSignedIn(s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="signin">
    <${Heading}>Sign in to Sluice<//>
    <form onSubmit=${submit}>
      <label>Username <input name="username" autocomplete="username" required /></label>
      <label
        >Access key <input name="access_key" type="password" autocomplete="current-password" required
      /></label>
      <button type="submit" disabled=${busy}>Sign in</button>
      <${ErrorText} error=${error} />
    </form>
  </main>`;
}

// ---- tunnels ------------------------------------------------------------------------------------------------

async function stopTunnel(t) {
  if (!confirm(`Stop tunnel "${t.tunnel_identifier}" of ${t.owner}?`)) return false;
  await api('DELETE', rest(`/${enc(t.owner)}/tunnels/${enc(t.id)}`));
  return true;
}

function matches(t, q) {
  if (!q) return true;
  const hay = [t.tunnel_identifier, t.owner, t.client_host, t.region, t.client_version, t.id, t.status]
    .join(' ')
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .every((w) => hay.includes(w));
}

function TunnelRow({ t, onStop }) {
  const up = t.status === 'running' && t.connections > 0;
  return html`<tr>
    <td><a href=${`#/tunnels/${t.id}`}>${t.tunnel_identifier}</a></td>
    <td class=${up ? 'status-running' : t.status === 'running' ? 'status-down' : 'status-terminated'}>
      ${up ? 'up' : t.status === 'running' ? 'no connection' : t.status}
    </td>
    <td>${t.owner}</td>
    <td>${t.shared_tunnel ? 'shared' : '—'}</td>
    <td>${t.tunnel_pool ? 'pool' : '—'}</td>
    <td>${t.region || '—'}</td>
    <td>${t.client_version || '—'}</td>
    <td>${t.client_host || '—'}</td>
    <td class="num">${duration(t.uptime)}</td>
    <td class="num">${t.connections}</td>
    <td class="num">${t.requests}</td>
    <td class="num">${bytes(t.bytes_in + t.bytes_out)}</td>
    <td>
      ${
        t.may_stop
          ? html`<button
              class="danger"
              aria-label=${`Stop tunnel ${t.tunnel_identifier}`}
              onClick=${() => onStop(t)}
            >
              Stop
            </button>`
          : null
      }
    </td>
  </tr>`;
}

const TUNNEL_COLS = html`<colgroup>
  ${[
    'name',
    'status',
    'owner',
    'shared',
    'pool',
    'region',
    'version',
    'host',
    'uptime',
    'conns',
    'requests',
    'bytes',
    'actions',
  ].map((c) => html`<col class=${`c-${c}`} />`)}
</colgroup>`;

const TUNNEL_HEAD = html`<tr>
  <th scope="col">Name</th>
  <th scope="col">Status</th>
  <th scope="col">Owner</th>
  <th scope="col">Shared</th>
  <th scope="col">Pool</th>
  <th scope="col">Region</th>
  <th scope="col">Version</th>
  <th scope="col">Host</th>
  <th scope="col" class="num">Uptime</th>
  <th scope="col" class="num">Connections</th>
  <th scope="col" class="num">Requests</th>
  <th scope="col" class="num">Bytes</th>
  <th scope="col"><span class="muted">Actions</span></th>
</tr>`;

// The first list is asked for while the session is checked, not after (one round trip less on the first view).
let prefetched = /^(#\/tunnels\/?)?$/.test(location.hash)
  ? fetch('/console/api/tunnels', { headers: { accept: 'application/json' }, cache: 'no-store' }).then(
      (r) => (r.ok ? r.json() : null),
      () => null,
    )
  : null;
async function loadTunnels() {
  const early = prefetched && (await prefetched);
  prefetched = null;
  return early ?? api('GET', '/console/api/tunnels');
}

function Tunnels() {
  const [data, error, reload] = usePoll(loadTunnels, 5000, []);
  const [q, setQ] = useState('');
  const [scope, setScope] = useState('all');
  const [group, setGroup] = useState(true);
  const [pageSize, setPageSize] = useState(100);
  const [pageNo, setPageNo] = useState(0);
  const [actionError, setActionError] = useState(null);
  const [note, setNote] = useState('');
  const me = currentUser;
  const onStop = async (t) => {
    setActionError(null);
    try {
      if (await stopTunnel(t)) {
        setNote(`Stopped tunnel ${t.tunnel_identifier}.`);
        reload();
      }
    } catch (err) {
      setActionError(err);
    }
  };
  useEffect(() => {
    // For the benchmark (bench/workloads/console.ts): when the list was first on screen.
    if (data && performance.getEntriesByName('sluice:list-rendered').length === 0)
      performance.mark('sluice:list-rendered');
  }, [data]);
  const all = data?.tunnels ?? [];
  const shown = all.filter(
    (t) =>
      matches(t, q) &&
      (scope === 'all' || (scope === 'mine' ? t.owner === me.username : t.owner !== me.username)),
  );
  // Entries are single tunnels, or whole pools when grouping; pages hold `pageSize` entries, so pools never split.
  const entries = [];
  const byPool = new Map();
  for (const t of shown) {
    const key = group && t.tunnel_pool ? `${t.owner}\u0000${t.tunnel_identifier}` : null;
    if (key && byPool.has(key)) byPool.get(key).push(t);
    else {
      const members = [t];
      if (key) byPool.set(key, members);
      entries.push(members);
    }
  }
  const pages = Math.max(1, Math.ceil(entries.length / pageSize));
  const current = Math.min(pageNo, pages - 1);
  const body = entries.slice(current * pageSize, (current + 1) * pageSize).map((members) =>
    members.length > 1
      ? html`<tbody key=${`pool-${members[0].id}`}>
          <tr class="group">
            <th colspan="13" scope="rowgroup">
              Pool ${members[0].tunnel_identifier} of ${members[0].owner}: ${members.length} members
            </th>
          </tr>
          ${members.map((t) => html`<${TunnelRow} key=${t.id} t=${t} onStop=${onStop} />`)}
        </tbody>`
      : html`<tbody key=${members[0].id}>
          <${TunnelRow} t=${members[0]} onStop=${onStop} />
        </tbody>`,
  );
  const pager = html`<nav class="pager" aria-label="Pages of tunnels">
    <button class="secondary" disabled=${current === 0} onClick=${() => setPageNo(current - 1)}>
      Previous page
    </button>
    <span>Page ${current + 1} of ${pages}</span>
    <button class="secondary" disabled=${current >= pages - 1} onClick=${() => setPageNo(current + 1)}>
      Next page
    </button>
    <label class="inline"
      >Rows per page
      <select
        value=${pageSize}
        onChange=${(e) => {
          setPageSize(Number(e.target.value));
          setPageNo(0);
        }}
      >
        ${[25, 100, 250, 10000].map((n) => html`<option value=${n}>${n === 10000 ? 'all' : n}</option>`)}
      </select>
    </label>
  </nav>`;
  return html`<section>
    <${Heading}>Tunnels<//>
    <div class="toolbar" role="search">
      <label
        >Filter
        <input
          type="search"
          value=${q}
          onInput=${(e) => {
            setQ(e.target.value);
            setPageNo(0);
          }}
          placeholder="name, owner, host…"
      /></label>
      <label
        >Owner
        <select value=${scope} onChange=${(e) => setScope(e.target.value)}>
          <option value="all">everyone I can see</option>
          <option value="mine">mine</option>
          <option value="others">others'</option>
        </select>
      </label>
      <label class="inline"
        ><input type="checkbox" checked=${group} onChange=${(e) => setGroup(e.target.checked)} /> Group
        pools</label
      >
    </div>
    <p role="status" class="notice">${note}</p>
    <${ErrorText} error=${actionError || error} />
    ${
      data
        ? html`<table data-testid="tunnels" class="fixed">
              <caption>
                ${shown.length} of ${all.length} running tunnels (refreshed every 5 s)
              </caption>
              ${TUNNEL_COLS}
              <thead>
                ${TUNNEL_HEAD}
              </thead>
              ${body}
            </table>
            ${pager}`
        : html`<p>Loading tunnels…</p>`
    }
  </section>`;
}

function Chart({ title, series, data }) {
  const el = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const opts = {
      title,
      width: 420,
      height: 180,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
      axes: [{}, { size: 70 }],
    };
    plot.current = new uPlot(opts, data, el.current);
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => plot.current?.setData(data), [data]);
  return html`<figure class="chart" aria-label=${title}>
    <div ref=${el}></div>
    <figcaption class="muted">${title}: last 5 minutes, one point per second</figcaption>
  </figure>`;
}

function TunnelDetail({ id }) {
  const [data, error, reload] = usePoll(() => api('GET', `/console/api/tunnels/${enc(id)}`), 2000, [id]);
  const [actionError, setActionError] = useState(null);
  if (!data)
    return html`<section>
      <${Heading}>Tunnel<//>${error ? html`<${ErrorText} error=${error} />` : html`<p>Loading…</p>`}
    </section>`;
  const t = data.tunnel;
  const s = data.samples;
  const x = s.map((p) => p.t / 1000);
  const onStop = async () => {
    setActionError(null);
    try {
      if (await stopTunnel(t)) reload();
    } catch (err) {
      setActionError(err);
    }
  };
  return html`<section>
    <${Heading}>Tunnel ${t.tunnel_identifier}<//>
    <p><a href="#/tunnels">← all tunnels</a></p>
    <${ErrorText} error=${actionError || error} />
    <dl class="facts" data-testid="tunnel-facts">
      <dt>Status</dt>
      <dd>${t.status}${t.status === 'running' && t.connections === 0 ? ' (no connection)' : ''}</dd>
      <dt>Owner</dt>
      <dd>${t.owner}</dd>
      <dt>Id</dt>
      <dd><code>${t.id}</code></dd>
      <dt>Shared</dt>
      <dd>${t.shared_tunnel ? 'yes' : 'no'}</dd>
      <dt>Pool</dt>
      <dd>${t.tunnel_pool ? `yes (${data.pool_members.length} running members)` : 'no'}</dd>
      <dt>Region</dt>
      <dd>${t.region || '—'}</dd>
      <dt>Client version</dt>
      <dd>${t.client_version || '—'}</dd>
      <dt>Client host</dt>
      <dd>${t.client_host || '—'}</dd>
      <dt>Started</dt>
      <dd>${when(t.creation_time)}</dd>
      <dt>Uptime</dt>
      <dd>${duration(t.uptime)}</dd>
      <dt>Connections</dt>
      <dd>${t.connections}</dd>
      <dt>Requests</dt>
      <dd>${t.requests}</dd>
      <dt>Bytes</dt>
      <dd>${bytes(t.bytes_in)} from the client, ${bytes(t.bytes_out)} to it</dd>
      ${
        t.status !== 'running'
          ? html`<dt>Stopped</dt>
              <dd>${when(t.shutdown_time)}: ${t.shutdown_reason ?? '—'}</dd>`
          : null
      }
    </dl>
    ${
      t.may_stop
        ? html`<p>
            <button class="danger" onClick=${onStop} aria-label=${`Stop tunnel ${t.tunnel_identifier}`}>
              Stop tunnel
            </button>
          </p>`
        : null
    }
    <h2>Live traffic</h2>
    <div class="charts">
      <${Chart}
        title="Requests per second"
        series=${[{ label: 'requests/s', color: '#0b57d0' }]}
        data=${[x, s.map((p) => p.requests)]}
      />
      <${Chart}
        title="Bytes per second"
        series=${[
          { label: 'from client', color: '#146c2e' },
          { label: 'to client', color: '#8a5300' },
        ]}
        data=${[x, s.map((p) => p.bytesIn), s.map((p) => p.bytesOut)]}
      />
      <${Chart}
        title="Errors per second"
        series=${[{ label: 'errors/s', color: '#b3261e' }]}
        data=${[x, s.map((p) => p.errors)]}
      />
    </div>
    <h2>Errors by code</h2>
    ${
      sumErrors(t.errors) === 0
        ? html`<p class="muted">No failed requests.</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Code</th>
                <th scope="col" class="num">Count</th>
              </tr>
            </thead>
            <tbody>
              ${Object.entries(t.errors).map(
                ([code, n]) =>
                  html`<tr>
                    <td><code>${code}</code></td>
                    <td class="num">${n}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    <h2>WebDriver gateway sessions</h2>
    ${
      data.sessions.length === 0
        ? html`<p class="muted">No gateway sessions on this tunnel.</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">User</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Last used</th>
              </tr>
            </thead>
            <tbody>
              ${data.sessions.map(
                (g) =>
                  html`<tr>
                    <td><code>${g.id}</code></td>
                    <td>${g.user}</td>
                    <td>${g.status}</td>
                    <td>${when(g.created_at / 1000)}</td>
                    <td>${when(g.last_used_at / 1000)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
  </section>`;
}

function History() {
  const [data, error] = usePoll(
    () => api('GET', '/console/api/tunnels?status=terminated&limit=500'),
    15000,
    [],
  );
  const [q, setQ] = useState('');
  const rows = (data?.tunnels ?? []).filter((t) => matches(t, q) || (t.shutdown_reason ?? '').includes(q));
  return html`<section>
    <${Heading}>Stopped tunnels<//>
    <div class="toolbar" role="search">
      <label>Filter <input type="search" value=${q} onInput=${(e) => setQ(e.target.value)} /></label>
    </div>
    <${ErrorText} error=${error} />
    <table data-testid="history">
      <caption>
        The last ${rows.length} stopped tunnels you may see, newest first
      </caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Owner</th>
          <th scope="col">Started</th>
          <th scope="col">Stopped</th>
          <th scope="col">Reason</th>
          <th scope="col">By a user</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (t) =>
            html`<tr>
              <td><a href=${`#/tunnels/${t.id}`}>${t.tunnel_identifier}</a></td>
              <td>${t.owner}</td>
              <td>${when(t.creation_time)}</td>
              <td>${when(t.shutdown_time)}</td>
              <td><code>${t.shutdown_reason ?? '—'}</code></td>
              <td>${t.user_shutdown ? 'yes' : 'no'}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

// ---- access keys, users, teams, orgs (the admin REST API) --------------------------------------------------

function Keys({ username }) {
  const self = username === currentUser.username;
  const [data, error, reload] = usePoll(() => api('GET', rest(`/admin/users/${enc(username)}/keys`)), 30000, [
    username,
  ]);
  const [fresh, setFresh] = useState(null);
  const [actionError, setActionError] = useState(null);
  const act = async (fn) => {
    setActionError(null);
    try {
      await fn();
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const create = (e) => {
    e.preventDefault();
    const label = String(new FormData(e.target).get('label') ?? '');
    act(async () => {
      const r = await api('POST', rest(`/admin/users/${enc(username)}/keys`), label ? { label } : {});
      setFresh(r.access_key);
      e.target.reset();
    });
  };
  return html`<section>
    <${Heading}>${self ? 'My access keys' : `Access keys of ${username}`}<//>
    ${fresh ? html`<${SecretKey} who=${username} accessKey=${fresh} onDone=${() => setFresh(null)} />` : null}
    <${ErrorText} error=${actionError || error} />
    <form class="toolbar" onSubmit=${create}>
      <label>Label of a new key <input name="label" maxlength="64" /></label>
      <button type="submit">Create key</button>
    </form>
    <table>
      <thead>
        <tr>
          <th scope="col">Id</th>
          <th scope="col">Label</th>
          <th scope="col">Created</th>
          <th scope="col">Last used</th>
          <th scope="col">State</th>
          <th scope="col"><span class="muted">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        ${(data ?? []).map(
          (k) =>
            html`<tr>
              <td><code>${k.id}</code></td>
              <td>${k.label}</td>
              <td>${when(k.created_at)}</td>
              <td>${when(k.last_used_at)}</td>
              <td>${k.active ? 'active' : `revoked ${when(k.revoked_at)}`}</td>
              <td>
                ${
                  k.active
                    ? html`<button
                          class="secondary"
                          aria-label=${`Rotate key ${k.label || k.id}`}
                          onClick=${() =>
                            act(async () =>
                              setFresh(
                                (
                                  await api(
                                    'POST',
                                    rest(`/admin/users/${enc(username)}/keys/${enc(k.id)}/rotate`),
                                  )
                                ).access_key,
                              ),
                            )}
                        >
                          Rotate
                        </button>
                        ${' '}
                        <button
                          class="danger"
                          aria-label=${`Revoke key ${k.label || k.id}`}
                          onClick=${() =>
                            confirm(`Revoke key ${k.label || k.id}? Clients using it stop working.`) &&
                            act(() => api('DELETE', rest(`/admin/users/${enc(username)}/keys/${enc(k.id)}`)))}
                        >
                          Revoke
                        </button>`
                    : null
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

const ROLES = ['team_member', 'team_admin', 'org_admin', 'service_account'];

function Users() {
  const [data, error, reload] = usePoll(() => api('GET', rest('/admin/users')), 30000, []);
  const [created, setCreated] = useState(null);
  const [actionError, setActionError] = useState(null);
  const act = async (fn) => {
    setActionError(null);
    try {
      await fn();
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const create = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { username: String(f.get('username')), role: String(f.get('role')) };
    const teams = String(f.get('teams') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (teams.length) body.teams = teams;
    const org = String(f.get('org') ?? '').trim();
    if (org) body.org = org;
    act(async () => {
      const r = await api('POST', rest('/admin/users'), body);
      setCreated({ who: r.user.username, key: r.access_key });
      e.target.reset();
    });
  };
  return html`<section>
    <${Heading}>Users<//>
    ${
      created
        ? html`<${SecretKey} who=${created.who} accessKey=${created.key} onDone=${() => setCreated(null)} />`
        : null
    }
    <${ErrorText} error=${actionError || error} />
    <h2>Create a user</h2>
    <form class="toolbar" onSubmit=${create} aria-label="Create a user">
      <label>Username <input name="username" required maxlength="64" /></label>
      <label
        >Role
        <select name="role">
          ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
        </select>
      </label>
      <label>Teams (comma-separated) <input name="teams" /></label>
      <label>Org (default: yours) <input name="org" /></label>
      <button type="submit">Create user</button>
    </form>
    <table data-testid="users">
      <caption>
        Accounts you administer
      </caption>
      <thead>
        <tr>
          <th scope="col">Username</th>
          <th scope="col">Role</th>
          <th scope="col">Org</th>
          <th scope="col">Teams</th>
          <th scope="col">Created</th>
          <th scope="col">State</th>
          <th scope="col"><span class="muted">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        ${(data ?? []).map(
          (u) =>
            html`<tr>
              <td>${u.username}</td>
              <td>${u.role}</td>
              <td>${u.org}</td>
              <td>${u.teams.join(', ') || '—'}</td>
              <td>${when(u.created_at)}</td>
              <td>${u.disabled ? 'disabled' : 'active'}</td>
              <td>
                <a href=${`#/users/${enc(u.username)}/keys`}>Keys</a>
                ${' '}
                ${
                  u.username === currentUser.username
                    ? null
                    : html`<button
                        class="secondary"
                        aria-label=${`${u.disabled ? 'Enable' : 'Disable'} ${u.username}`}
                        onClick=${() => act(() => api('PATCH', rest(`/admin/users/${enc(u.username)}`), { disabled: !u.disabled }))}
                      >
                        ${u.disabled ? 'Enable' : 'Disable'}
                      </button>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function NamedList({ title, path, columns, createLabel, withOrg }) {
  const [data, error, reload] = usePoll(() => api('GET', rest(path)), 30000, [path]);
  const [actionError, setActionError] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { name: String(f.get('name')) };
    if (withOrg && String(f.get('org') ?? '').trim()) body.org = String(f.get('org')).trim();
    setActionError(null);
    try {
      await api('POST', rest(path), body);
      e.target.reset();
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  return html`<section>
    <${Heading}>${title}<//>
    <${ErrorText} error=${actionError || error} />
    <form class="toolbar" onSubmit=${create} aria-label=${createLabel}>
      <label>Name <input name="name" required maxlength="64" /></label>
      ${withOrg ? html`<label>Org (default: yours) <input name="org" /></label>` : null}
      <button type="submit">${createLabel}</button>
    </form>
    <table>
      <thead>
        <tr>
          ${columns.map(([, label]) => html`<th scope="col">${label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${(data ?? []).map(
          (row) =>
            html`<tr>
              ${columns.map(([key]) => html`<td>${key === 'created_at' ? when(row[key]) : row[key]}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

// ---- the shell ----------------------------------------------------------------------------------------------

let currentUser = null;
const isAdmin = (u) => u.role === 'org_admin' || u.role === 'team_admin';

function NotAllowed() {
  return html`<section>
    <${Heading}>Not available<//>
    <p>Your role (${currentUser.role}) does not administer users, teams or orgs.</p>
  </section>`;
}

function Shell({ user, onSignOut }) {
  const route = useRoute();
  const [page, arg] = route;
  const admin = isAdmin(user);
  const links = [
    ['tunnels', 'Tunnels'],
    ['history', 'History'],
    ['keys', 'My access keys'],
    ...(admin
      ? [
          ['users', 'Users'],
          ['teams', 'Teams'],
          ['orgs', 'Orgs'],
        ]
      : []),
  ];
  let content;
  if (page === 'tunnels' && arg) content = html`<${TunnelDetail} id=${arg} />`;
  else if (page === 'history') content = html`<${History} />`;
  else if (page === 'keys') content = html`<${Keys} username=${user.username} />`;
  else if (['users', 'teams', 'orgs'].includes(page) && !admin) content = html`<${NotAllowed} />`;
  else if (page === 'users' && arg && route[2] === 'keys') content = html`<${Keys} username=${arg} />`;
  else if (page === 'users') content = html`<${Users} />`;
  else if (page === 'teams')
    content = html`<${NamedList}
      title="Teams"
      path="/admin/teams"
      createLabel="Create team"
      withOrg=${true}
      columns=${[
        ['name', 'Name'],
        ['org', 'Org'],
        ['created_at', 'Created'],
      ]}
    />`;
  else if (page === 'orgs')
    content = html`<${NamedList}
      title="Orgs"
      path="/admin/orgs"
      createLabel="Create org"
      columns=${[
        ['name', 'Name'],
        ['id', 'Id'],
        ['created_at', 'Created'],
      ]}
    />`;
  else content = html`<${Tunnels} />`;
  return html`<div>
    <header class="top">
      <span class="brand">Sluice</span>
      <nav aria-label="Console">
        <ul>
          ${links.map(
            ([p, label]) =>
              html`<li>
                <a
                  href=${`#/${p}`}
                  aria-current=${page === p || (!page && p === 'tunnels') ? 'page' : undefined}
                  >${label}</a
                >
              </li>`,
          )}
        </ul>
      </nav>
      <span class="who">${user.username} (${user.role})</span>
      <button class="link" onClick=${onSignOut}>Sign out</button>
    </header>
    <main id="main" key=${route.join('/')}>${content}</main>
  </div>`;
}

function App() {
  const [state, setState] = useState({ phase: 'loading', user: null, reason: '' });
  const signedIn = (s) => {
    csrf = s.csrf;
    currentUser = { username: s.username, role: s.role };
    setState({ phase: 'in', user: currentUser, reason: '' });
  };
  useEffect(() => {
    onSignedOut = (reason) => {
      csrf = '';
      setState({ phase: 'out', user: null, reason });
    };
    api('GET', '/console/api/session').then(signedIn, () =>
      setState({ phase: 'out', user: null, reason: '' }),
    );
  }, []);
  const signOut = async () => {
    try {
      await api('POST', '/console/api/logout');
    } finally {
      csrf = '';
      setState({ phase: 'out', user: null, reason: '' });
    }
  };
  if (state.phase === 'loading') return html`<p class="loading">Loading the console…</p>`;
  if (state.phase === 'out') return html`<${SignIn} onSignedIn=${signedIn} reason=${state.reason} />`;
  return html`<${Shell} user=${state.user} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('app'));
