// berth's dashboard: sign in with the token once (the daemon keeps an HttpOnly session
// cookie), then everything live from /v1/events and the log and deployment streams. Every
// state-changing request carries the session's CSRF token. No framework, no inline script
// (the page's Content-Security-Policy forbids it), and no innerHTML: all text goes through
// textContent, so a log line or a name can never become markup.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  csrf: null,
  events: null,      // EventSource on /v1/events
  logStream: null,   // EventSource on the selected component's log
  deployStream: null, // EventSource on the deployment being followed
  followed: null,    // its id
  selected: null,    // the component shown in the detail pane
  components: [],
  deployments: [],
  lines: [],
  pending: null,     // the action awaiting confirmation
};
const kMaxLines = 2000;

// One API call; `body` is sent as JSON. A 401 outside the sign-in means the session ended.
async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await r.json(); } catch (_) { /* not JSON */ }
  if (r.status === 401 && path !== '/v1/session') showSignin('Your session ended: sign in again.');
  return { status: r.status, ok: r.ok, body: json };
}

function errorText(r) {
  const e = r.body && r.body.error;
  return e ? `${e.code}: ${e.message}` : `HTTP ${r.status}`;
}

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function duration(ms) {
  if (!ms) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

function closeStreams() {
  for (const key of ['events', 'logStream', 'deployStream']) {
    if (state[key]) state[key].close();
    state[key] = null;
  }
  state.followed = null;
}

// ---- signing in and out ----

function showSignin(message) {
  closeStreams();
  state.csrf = null;
  $('app').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('token').focus();
}

function showApp() {
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  connect();
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await api('POST', '/v1/session', { token: $('token').value });
  if (!r.ok) {
    $('signin-error').textContent = r.status === 429 || r.status === 401
      ? r.body.error.message : `Sign-in failed: ${errorText(r)}`;
    return;
  }
  $('token').value = '';
  state.csrf = r.body.csrf;
  showApp();
});

$('signout').addEventListener('click', async () => {
  await api('DELETE', '/v1/session');
  showSignin('Signed out.');
});

// ---- the live stream ----

function connect() {
  const es = new EventSource('/v1/events');
  state.events = es;
  es.addEventListener('components', (e) => {
    state.components = JSON.parse(e.data).components;
    renderComponents();
  });
  es.addEventListener('deployments', (e) => {
    state.deployments = JSON.parse(e.data).deployments;
    renderDeployments();
    followRunningDeploy();
  });
  // Only in a cluster; a single daemon shows itself in the header.
  es.addEventListener('nodes', (e) => renderNodes(JSON.parse(e.data)));
  es.onopen = () => { $('live').textContent = 'live'; };
  es.onerror = async () => {
    $('live').textContent = 'reconnecting…';
    const r = await fetch('/v1/session', { credentials: 'same-origin' });
    if (r.status === 401) showSignin('Your session ended: sign in again.');
  };
}

// ---- the components table ----

function readyCount(c) {
  if (!c.instances.length) return c.state === 'ready' ? 1 : 0;
  return c.instances.filter((i) => i.state === 'ready').length;
}

function renderComponents() {
  const body = $('components').tBodies[0];
  body.replaceChildren();
  for (const c of state.components) {
    const row = el('tr');
    row.dataset.name = c.name;
    if (c.name === state.selected) row.className = 'selected';
    const cells = [
      ['name', c.name],
      ['state', c.state],
      ['instances', `${readyCount(c)}/${c.instances_wanted}`],
      ['cpu', `${(c.cpu_percent || 0).toFixed(1)}%`],
      ['memory', bytes(c.memory_bytes || 0)],
      ['uptime', duration(c.uptime_ms)],
      ['restarts', String(c.restarts)],
      ['release', c.release || '—'],
      ['ready', c.state === 'ready' ? 'yes' : 'no'],
      ['watch', c.watch ? c.watch.mode : 'off'],
    ];
    for (const [cls, text] of cells) {
      const td = el('td', { className: cls, textContent: text });
      if (cls === 'state') td.dataset.state = c.state;
      row.append(td);
    }
    row.addEventListener('click', () => select(c.name));
    body.append(row);
  }
  $('empty').hidden = state.components.length > 0;
  if (state.selected && !state.components.some((c) => c.name === state.selected)) select(null);
}

function renderNodes(view) {
  const body = $('node-table').tBodies[0];
  body.replaceChildren();
  for (const n of view.nodes) {
    const row = el('tr');
    row.dataset.node = n.name;
    const cells = [['name', n.self ? `${n.name} (this node)` : n.name], ['state', n.state],
      ['url', n.url], ['version', n.version], ['components', n.components.join(', ')]];
    for (const [cls, text] of cells) row.append(el('td', { className: cls, textContent: text }));
    body.append(row);
  }
  $('nodes').hidden = false;
  $('live').textContent = view.connected ? 'live' : `etcd unreachable: ${view.error || ''}`;
}

// ---- one component: actions, logs, deployments ----

function select(name) {
  if (state.logStream) state.logStream.close();
  state.logStream = null;
  state.selected = name;
  state.lines = [];
  state.pending = null;
  $('confirm').hidden = true;
  $('action-result').textContent = '';
  $('log').replaceChildren();
  $('detail').hidden = !name;
  renderComponents();
  if (!name) return;
  $('detail-name').textContent = name;
  renderDeployments();
  const es = new EventSource(`/v1/components/${encodeURIComponent(name)}/logs?n=200&follow=1`);
  state.logStream = es;
  es.addEventListener('line', (e) => {
    const line = JSON.parse(e.data);
    state.lines.push(line);
    if (state.lines.length > kMaxLines) state.lines.splice(0, state.lines.length - kMaxLines);
    if (matches(line)) appendLine(line);
  });
}

function matches(line) {
  const f = $('log-filter').value.trim().toLowerCase();
  return !f || line.text.toLowerCase().includes(f);
}

function appendLine(line) {
  const log = $('log');
  const prefix = line.instance !== undefined ? `#${line.instance} ` : '';
  log.append(el('span', { className: line.stream, textContent: `${prefix}${line.text}\n` }));
  while (log.childNodes.length > kMaxLines) log.firstChild.remove();
  log.scrollTop = log.scrollHeight;
}

$('log-filter').addEventListener('input', () => {
  $('log').replaceChildren();
  for (const line of state.lines) if (matches(line)) appendLine(line);
});

// Every button that changes something asks first, in the page.
function ask(text, run) {
  state.pending = run;
  $('confirm-text').textContent = text;
  $('confirm').hidden = false;
}

$('confirm-no').addEventListener('click', () => {
  state.pending = null;
  $('confirm').hidden = true;
});

$('confirm-yes').addEventListener('click', async () => {
  const run = state.pending;
  state.pending = null;
  $('confirm').hidden = true;
  if (run) await run();
});

for (const button of document.querySelectorAll('#detail .actions button')) {
  button.addEventListener('click', () => {
    const name = state.selected;
    const action = button.dataset.action;
    ask(`${action[0].toUpperCase()}${action.slice(1)} ${name}?`, async () => {
      $('action-result').textContent = `${action}: waiting for ${name}…`;
      const r = await api('POST', `/v1/components/${encodeURIComponent(name)}/${action}`);
      $('action-result').textContent = r.ok ? `${action}: done, ${r.body.state}` : errorText(r);
    });
  });
}

function peers(d) {
  if (!Array.isArray(d.peer_results) || !d.peer_results.length) return 'this node';
  return d.peer_results.map((p) => `${p.node}: ${p.status}`).join(', ');
}

function renderDeployments() {
  const body = $('deployments').tBodies[0];
  body.replaceChildren();
  const current = state.components.find((c) => c.name === state.selected);
  for (const d of state.deployments.filter((x) => x.component === state.selected)) {
    const row = el('tr');
    row.dataset.id = d.id;
    const cells = [
      ['id', d.id], ['kind', d.kind], ['status', d.status], ['phase', d.phase],
      ['when', new Date(d.created_at).toLocaleString()], ['nodes', peers(d)],
    ];
    for (const [cls, text] of cells) row.append(el('td', { className: cls, textContent: text }));
    const action = el('td');
    const live = current && current.release === d.release;
    if (d.status === 'success' && !live) {
      const b = el('button', { className: 'rollback', textContent: 'Roll back to this' });
      b.addEventListener('click', () => ask(`Roll ${d.component} back to ${d.release}?`, async () => {
        const r = await api('POST', `/v1/components/${encodeURIComponent(d.component)}/rollback`,
                            { to: d.id });
        $('action-result').textContent = r.ok ? `rollback: ${r.body.id} started` : errorText(r);
      }));
      action.append(b);
    } else if (live) {
      action.textContent = 'live';
    }
    row.append(action);
    body.append(row);
  }
}

// ---- a deploy in progress, phase by phase ----

function followRunningDeploy() {
  const running = state.deployments.find((d) => d.status === 'running');
  if (!running || running.id === state.followed) return;
  if (state.deployStream) state.deployStream.close();
  state.followed = running.id;
  $('deploying').hidden = false;
  $('deploying-name').textContent = `${running.component} (${running.kind} ${running.id})`;
  $('deploy-phases').replaceChildren();
  $('deploy-lines').replaceChildren();
  $('deploy-result').textContent = '';
  const es = new EventSource(`/v1/deployments/${encodeURIComponent(running.id)}/events`);
  state.deployStream = es;
  const allDone = () => {
    for (const li of $('deploy-phases').children) { li.dataset.done = ''; li.className = ''; }
  };
  const phase = (name) => {
    allDone();
    const li = el('li', { className: 'current', textContent: name });
    li.dataset.phase = name;
    $('deploy-phases').append(li);
  };
  const say = (text) => {
    const lines = $('deploy-lines');
    lines.append(`${text}\n`);
    while (lines.childNodes.length > 200) lines.firstChild.remove();
  };
  es.addEventListener('phase', (e) => phase(JSON.parse(e.data).phase));
  es.addEventListener('install', (e) => say(JSON.parse(e.data).line));
  es.addEventListener('info', (e) => say(JSON.parse(e.data).message));
  es.addEventListener('end', (e) => {
    const end = JSON.parse(e.data);
    allDone();
    $('deploy-result').textContent = end.error
      ? `${end.status}: ${end.error.code}: ${end.error.message}` : end.status;
    $('deploy-result').dataset.status = end.status;
    es.close();  // the stream is over; EventSource would otherwise reconnect
  });
}

// ---- start ----

(async () => {
  const h = await fetch('/healthz');
  if (h.ok) {
    const j = await h.json();
    $('node').textContent = `v${j.version} · pid ${j.pid} · ${j.components} components`;
  }
  const s = await api('GET', '/v1/session');
  if (s.ok) {
    state.csrf = s.body.csrf;
    showApp();
  } else {
    showSignin('');
  }
})();
