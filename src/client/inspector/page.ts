/**
 * The inspector's page: static HTML, one small ES module and a stylesheet, kept in the program (no files to ship
 * beside the single executable, nothing built at run time). Everything from the traffic is put in the page with
 * textContent, never as HTML; the page's Content-Security-Policy allows only its own script and style.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sc inspector</title>
<link rel="stylesheet" href="style.css">
<script type="module" src="app.js"></script>
</head>
<body>
<header>
  <h1>sc inspector</h1>
  <p>Requests through this tunnel, newest first. <a href="har" download="sc-inspector.har">Download HAR</a></p>
  <p><label for="filter">Filter by URL, method, status or error</label>
  <input id="filter" type="search" autocomplete="off">
  <span id="status" role="status" aria-live="polite"></span></p>
</header>
<main>
<table id="requests">
  <caption>Requests</caption>
  <thead><tr>
    <th scope="col">#</th><th scope="col">Method</th><th scope="col">URL</th><th scope="col">Status</th>
    <th scope="col">Error</th><th scope="col">Route</th><th scope="col">Time (ms)</th>
    <th scope="col">Up (bytes)</th><th scope="col">Down (bytes)</th>
  </tr></thead>
  <tbody></tbody>
</table>
<section id="detail" aria-labelledby="detail-title" hidden>
  <h2 id="detail-title" tabindex="-1">Request</h2>
  <dl id="detail-facts"></dl>
  <h3>Request headers</h3><table class="headers" id="req-headers"><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead><tbody></tbody></table>
  <h3>Request body</h3><pre id="req-body"></pre>
  <h3>Response headers</h3><table class="headers" id="res-headers"><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead><tbody></tbody></table>
  <h3>Response body</h3><pre id="res-body"></pre>
</section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `body { font: 15px/1.4 system-ui, sans-serif; margin: 1rem; color: #111; background: #fff; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td.url { word-break: break-all; }
tr.failed td { color: #8a0000; }
button { font: inherit; cursor: pointer; }
button:focus-visible, input:focus-visible, a:focus-visible { outline: 3px solid #1a56c4; outline-offset: 2px; }
#detail { margin-top: 1.5rem; border-top: 3px solid #333; }
pre { white-space: pre-wrap; word-break: break-all; background: #f4f4f4; padding: 0.5rem; max-height: 30rem; overflow: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dt { font-weight: 600; }
`;

export const PAGE_JS = `const rows = new Map();
const tbody = document.querySelector('#requests tbody');
const filter = document.getElementById('filter');
const status = document.getElementById('status');

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.append(td);
}

function matches(r) {
  const q = filter.value.trim().toLowerCase();
  if (!q) return true;
  return [r.method, r.url, String(r.status), r.error || ''].some((v) => v.toLowerCase().includes(q));
}

function render(r) {
  const tr = document.createElement('tr');
  tr.dataset.id = String(r.id);
  if (r.error) tr.className = 'failed';
  const td = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = String(r.id);
  b.setAttribute('aria-label', 'Show request ' + r.id + ' ' + r.method + ' ' + r.url);
  b.addEventListener('click', () => show(r.id));
  td.append(b);
  tr.append(td);
  cell(tr, r.method);
  cell(tr, r.url, 'url');
  cell(tr, r.done ? String(r.status) : 'pending');
  cell(tr, r.error || '');
  cell(tr, [r.route, ...r.rules].filter(Boolean).join(' '));
  cell(tr, r.timings.total >= 0 ? r.timings.total.toFixed(1) : '');
  cell(tr, String(r.bytesUp));
  cell(tr, String(r.bytesDown));
  tr.hidden = !matches(r);
  const old = rows.get(r.id);
  if (old) old.tr.replaceWith(tr);
  else {
    // Newest first: before the first row with a smaller id (at the top, unless it came from a reload).
    let next = tbody.firstElementChild;
    while (next && Number(next.dataset.id) > r.id) next = next.nextElementSibling;
    tbody.insertBefore(tr, next);
  }
  rows.set(r.id, { r, tr });
}

function count() {
  status.textContent = rows.size + ' requests';
}

function fillHeaders(id, headers) {
  const body = document.querySelector('#' + id + ' tbody');
  body.replaceChildren();
  for (const h of headers) {
    const tr = document.createElement('tr');
    cell(tr, h.name);
    cell(tr, h.value);
    body.append(tr);
  }
}

function bodyText(b) {
  if (b.text === undefined) return b.size ? '(' + b.size + ' bytes, not captured)' : '(empty)';
  const note = b.truncated ? '\\n… (first bytes of ' + b.size + ')' : '';
  return (b.encoding === 'base64' ? '(base64) ' : '') + b.text + note;
}

async function show(id) {
  const res = await fetch('api/requests/' + id);
  const section = document.getElementById('detail');
  const title = document.getElementById('detail-title');
  if (!res.ok) {
    section.hidden = false;
    title.textContent = 'Request ' + id + ' is no longer kept';
    title.focus();
    return;
  }
  const d = await res.json();
  title.textContent = 'Request ' + d.id + ': ' + d.method + ' ' + d.url;
  const dl = document.getElementById('detail-facts');
  dl.replaceChildren();
  const facts = [
    ['Status', d.done ? d.status + ' ' + d.statusText : 'pending'],
    ['Error code', d.error || 'none'],
    ['Route', d.route || '-'],
    ['Rules applied', d.rules.join(', ') || 'none'],
    ['Started', d.startedDateTime],
    ['Connect (ms)', d.timings.connect >= 0 ? d.timings.connect.toFixed(1) : '-'],
    ['First byte (ms)', d.timings.ttfb >= 0 ? d.timings.ttfb.toFixed(1) : '-'],
    ['Total (ms)', d.timings.total >= 0 ? d.timings.total.toFixed(1) : '-'],
    ['Bytes up / down', d.bytesUp + ' / ' + d.bytesDown],
  ];
  for (const [k, v] of facts) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  fillHeaders('req-headers', d.requestHeaders);
  fillHeaders('res-headers', d.responseHeaders);
  document.getElementById('req-body').textContent = bodyText(d.requestBody);
  document.getElementById('res-body').textContent = bodyText(d.responseBody);
  section.hidden = false;
  title.focus();
}

filter.addEventListener('input', () => {
  for (const { r, tr } of rows.values()) tr.hidden = !matches(r);
});

async function start() {
  // The feed first, then the list (on 'open'): a request that starts in between is in one or the other.
  const es = new EventSource('api/events');
  es.addEventListener('error', () => { status.textContent = 'live feed interrupted, reconnecting'; });
  es.addEventListener('add', (e) => { render(JSON.parse(e.data)); count(); });
  es.addEventListener('update', (e) => render(JSON.parse(e.data)));
  es.addEventListener('evict', (e) => {
    const id = JSON.parse(e.data).id;
    rows.get(id)?.tr.remove();
    rows.delete(id);
    count();
  });
  // On every (re)connection: what was missed while the feed was down.
  es.addEventListener('open', () => load().catch(failed));
}

async function load() {
  const res = await fetch('api/requests');
  const list = await res.json();
  const kept = new Set(list.requests.map((r) => r.id));
  const newest = list.requests.length ? list.requests[list.requests.length - 1].id : 0;
  // Rows the list no longer has were evicted meanwhile (rows newer than the list came from the feed since).
  for (const [id, { tr }] of rows) if (id <= newest && !kept.has(id)) { tr.remove(); rows.delete(id); }
  for (const r of list.requests) if (!rows.has(r.id) || !rows.get(r.id).r.done) render(r);
  count();
}

function failed(err) {
  status.textContent = 'cannot load requests: ' + err.message;
}

start().catch(failed);
`;
