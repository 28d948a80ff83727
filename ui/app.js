// app.js - berthd's web UI: browse repositories, tags and manifests, copy
// pull commands, delete tags. A static page: everything shown comes from
// the registry API (api.js); the location hash says what to show:
//
//   #/                          repositories (with a search box)
//   #/repo/NAME                 the tags of a repository
//   #/repo/NAME/tag/TAG         one manifest, by tag
//   #/repo/NAME/digest/DIGEST   one manifest, by digest (index children, referrers)
//
// Pages are built with DOM calls only (never innerHTML), so names, tags and
// annotations from the registry are always shown as text.
import * as api from './api.js';

const main = document.getElementById('main');
const statusBox = document.getElementById('status');
let generation = 0;     // bumped per page: late answers for an old page are dropped
let repoQuery = '';     // the search box survives a visit to a repository

// ---- small helpers ---------------------------------------------------------

// h('a', {href, class, onclick}, child...) - children: text, nodes, arrays, null.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  return append(el, children);
}

function append(el, children) {
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return el;
}

// Replace an element's children, by h()'s rules.
function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

function announce(text) {
  statusBox.textContent = text;
  statusBox.classList.add('shown');
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => statusBox.classList.remove('shown'), 4000);
}

function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
function age(iso) {
  const t = Date.parse(iso);
  if (!iso || Number.isNaN(t) || t <= 0) return null;
  const s = (t - Date.now()) / 1000;
  const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [30, 'day'], [12, 'month'], [Infinity, 'year']];
  let v = s;
  for (const [size, unit] of steps) {
    if (Math.abs(v) < size) return relative.format(Math.round(v), unit);
    v /= size;
  }
  return null;
}

function timeEl(iso) {
  const a = age(iso);
  return a ? h('time', { datetime: iso, title: new Date(iso).toLocaleString() }, a) : '—';
}

const shortDigest = (d) => (d ? d.replace(/^sha256:/, '').slice(0, 12) : '—');
const digestEl = (d) => h('code', { class: 'digest', title: d }, shortDigest(d));

const TYPE_NAMES = {
  'application/vnd.oci.image.manifest.v1+json': 'OCI image manifest',
  'application/vnd.oci.image.index.v1+json': 'OCI image index',
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker image manifest',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  'application/vnd.oci.image.config.v1+json': 'OCI image config',
  'application/vnd.docker.container.image.v1+json': 'Docker image config',
  'application/vnd.oci.image.layer.v1.tar': 'tar',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'tar + gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'tar + zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'tar + gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'tar + gzip (foreign)',
  'application/vnd.oci.empty.v1+json': 'empty',
};
const typeEl = (t) => h('span', { class: 'type', title: t || '' }, TYPE_NAMES[t] || t || '—');

const isIndex = (t) => t === 'application/vnd.oci.image.index.v1+json' ||
  t === 'application/vnd.docker.distribution.manifest.list.v2+json';
const isImageConfig = (t) => t === 'application/vnd.oci.image.config.v1+json' ||
  t === 'application/vnd.docker.container.image.v1+json';

function platformString(p) {
  if (!p) return '—';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/') +
    (p['os.version'] ? ` (${p['os.version']})` : '');
}

const repoHref = (name) => `#/repo/${name}`;
const refHref = (name, ref) => `#/repo/${name}/${ref.includes(':') ? 'digest' : 'tag'}/${ref}`;
const layerSize = (m) => (m.layers || []).reduce((sum, l) => sum + (Number(l.size) || 0), 0);

// Run fn over items, `width` at a time.
async function pool(items, width, fn) {
  let next = 0;
  const worker = async () => { while (next < items.length) { const i = next++; await fn(items[i], i); } };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

// ---- clipboard -----------------------------------------------------------------

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no Clipboard API (plain HTTP on a remote host): the old way
    const ta = h('textarea', { class: 'offscreen', readonly: true }, text);
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    if (!ok) { announce('Copying is not allowed here: select the command and copy it by hand'); return; }
  }
  announce(`Copied: ${text}`);
}

function commandBox(label, command) {
  return h('div', { class: 'command' },
    h('span', { class: 'command-label' }, label),
    h('code', { class: 'command-text' }, command),
    h('button', { type: 'button', class: 'copy', 'aria-label': `Copy ${label.toLowerCase()}: ${command}`,
      onclick: () => copyText(command) }, 'Copy'));
}

const pullCommand = (name, ref) => `docker pull ${location.host}/${name}${ref.includes(':') ? '@' : ':'}${ref}`;

// ---- dialogs ---------------------------------------------------------------------

const loginDialog = document.getElementById('login');
const loginForm = document.getElementById('login-form');

api.setCredentialPrompt((reason) => new Promise((resolve) => {
  document.getElementById('login-reason').textContent = reason === 'refused'
    ? 'Those credentials were not accepted. Try again.'
    : 'This registry asks for credentials.';
  loginDialog.classList.toggle('refused', reason === 'refused');
  const user = document.getElementById('login-user');
  const pass = document.getElementById('login-pass');
  user.value = api.currentUser() || '';
  pass.value = '';
  const done = (creds) => {
    loginForm.removeEventListener('submit', onSubmit);
    document.getElementById('login-cancel').removeEventListener('click', onCancel);
    loginDialog.removeEventListener('cancel', onCancel);
    if (loginDialog.open) loginDialog.close();
    pass.value = '';
    showAccount();
    resolve(creds);
  };
  const onSubmit = (e) => {
    e.preventDefault();
    if (!user.value) return;
    done({ username: user.value, password: pass.value });
  };
  const onCancel = (e) => { e.preventDefault(); done(null); };
  loginForm.addEventListener('submit', onSubmit);
  document.getElementById('login-cancel').addEventListener('click', onCancel);
  loginDialog.addEventListener('cancel', onCancel);
  loginDialog.showModal();
  (user.value ? pass : user).focus();
}));

function confirmDialog(text, action) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = action;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = 'cancel';
    dlg.showModal();
  });
}

function showAccount() {
  const user = api.currentUser();
  document.getElementById('account').hidden = !user;
  document.getElementById('account-name').textContent = user ? `Signed in as ${user}` : '';
}

document.getElementById('sign-out').addEventListener('click', () => {
  api.signOut();
  showAccount();
  announce('Signed out');
  render();
});

// ---- page frame ------------------------------------------------------------------

function page(title, crumbs, ...content) {
  document.title = `${title} · Berth registry`;
  const nav = crumbs.length ? h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
    h('ol', {}, crumbs.map(([text, href], i) => h('li', {},
      href && i < crumbs.length - 1 ? h('a', { href }, text) : h('span', { 'aria-current': 'page' }, text))))) : null;
  fill(main, nav, ...content);
  main.focus({ preventScroll: true });
}

function errorBox(err, retry, context) {
  const status = err instanceof api.ApiError ? err.status : 0;
  const hint = {
    401: 'You are not signed in, or your credentials were refused.',
    403: 'Your account may not do this.',
    404: 'It does not exist (any more).',
    405: 'The registry does not allow this (deletes may be turned off).',
  }[status];
  return h('div', { class: 'alert', role: 'alert' },
    h('strong', {}, context ? `${context}: ` : null, err.message || String(err)),
    hint ? h('p', {}, hint) : null,
    retry ? h('button', { type: 'button', onclick: retry }, status === 401 ? 'Sign in' : 'Try again') : null);
}

// A delete refused by the server is shown as the server said it.
async function deleteTag(name, tag, where) {
  const ok = await confirmDialog(
    `Delete the tag ${name}:${tag}? Pulling by this tag stops working; the manifest stays ` +
    'reachable by digest until garbage collection removes it.', 'Delete tag');
  if (!ok) return false;
  try {
    await api.deleteTag(name, tag);
    announce(`Deleted ${name}:${tag}`);
    return true;
  } catch (err) {
    fill(where, errorBox(err, null, `Could not delete ${name}:${tag}`));
    where.scrollIntoView({ block: 'nearest' });
    return false;
  }
}

// ---- #/ : repositories ---------------------------------------------------------------

async function viewRepositories(gen) {
  const input = h('input', { id: 'repo-search', type: 'search', placeholder: 'Search repositories',
    autocomplete: 'off', spellcheck: 'false', value: repoQuery, 'aria-describedby': 'repo-count' });
  const count = h('p', { id: 'repo-count', class: 'muted', 'aria-live': 'polite' }, 'Loading…');
  const list = h('ul', { class: 'repo-list', 'aria-label': 'Repositories' });
  page('Repositories', [],
    h('div', { class: 'page-head' }, h('h1', {}, 'Repositories')),
    h('div', { class: 'search' }, h('label', { for: 'repo-search', class: 'visually-hidden' }, 'Search repositories'), input),
    count, list);

  let names;
  try {
    names = await api.catalog();
  } catch (err) {
    if (gen !== generation) return;
    count.replaceWith(errorBox(err, render));
    return;
  }
  if (gen !== generation) return;
  showAccount();

  const draw = () => {
    const q = input.value.trim().toLowerCase();
    repoQuery = input.value;
    const shown = names.filter((n) => n.toLowerCase().includes(q));
    fill(list, ...shown.map((n) => {
      const i = q ? n.toLowerCase().indexOf(q) : -1;
      const label = i < 0 ? n : [n.slice(0, i), h('mark', {}, n.slice(i, i + q.length)), n.slice(i + q.length)];
      return h('li', {}, h('a', { href: repoHref(n) }, h('span', { class: 'repo-icon', 'aria-hidden': 'true' }), h('span', {}, label)));
    }));
    if (!names.length) {
      fill(count, 'No repositories yet. Push an image: ',
        h('code', {}, `docker push ${location.host}/NAME:TAG`));
    } else {
      count.textContent = q ? `${shown.length} of ${names.length} repositories match “${input.value.trim()}”`
        : `${names.length} ${names.length === 1 ? 'repository' : 'repositories'}`;
    }
  };
  input.addEventListener('input', draw);
  draw();
  if (repoQuery) input.focus();
}

// ---- #/repo/NAME : tags -------------------------------------------------------------

// What a tag's row shows: digest, kind, size, created. For an index, the
// size and age are those of its linux/amd64 image (or its first one).
async function tagSummary(name, tag) {
  const m = await api.manifest(name, tag);
  const out = { digest: m.digest, mediaType: m.mediaType, kind: TYPE_NAMES[m.mediaType] || m.mediaType };
  let image = m;
  if (isIndex(m.mediaType)) {
    const images = (m.body.manifests || []).filter((d) => !d.platform || d.platform.os !== 'unknown');
    out.kind = `${images.length} platform${images.length === 1 ? '' : 's'}`;
    out.platforms = images.map((d) => platformString(d.platform)).join(', ');
    const pick = images.find((d) => d.platform?.os === 'linux' && d.platform?.architecture === 'amd64') || images[0];
    if (!pick) return out;
    image = await api.manifest(name, pick.digest);
    out.sizeNote = platformString(pick.platform);
  }
  out.size = layerSize(image.body);
  const cfg = image.body.config;
  if (image.body.artifactType || (cfg && !isImageConfig(cfg.mediaType))) {
    out.kind = `artifact: ${image.body.artifactType || cfg?.mediaType}`;
  } else if (cfg && cfg.size < 1 << 20) {
    const config = await api.blobJSON(name, cfg.digest);
    out.created = config.created;
    if (!isIndex(m.mediaType)) out.platforms = platformString(config);
  }
  return out;
}

async function viewRepository(gen, name) {
  const tbody = h('tbody');
  const note = h('div');
  const table = h('table', { class: 'tags' },
    h('caption', { class: 'visually-hidden' }, `Tags of ${name}`),
    h('thead', {}, h('tr', {}, ['Tag', 'Digest', 'Platform', 'Size', 'Created', 'Actions']
      .map((t) => h('th', { scope: 'col', class: { Size: 'num', Actions: 'end' }[t] }, t)))),
    tbody);
  const count = h('p', { class: 'muted' }, 'Loading tags…');
  const wrap = h('div', { class: 'table-wrap', hidden: true }, table);
  page(name, [['Repositories', '#/'], [name, repoHref(name)]],
    h('div', { class: 'page-head' }, h('h1', {}, name)),
    note, count, wrap);

  let tags;
  try {
    tags = await api.tags(name);
  } catch (err) {
    if (gen !== generation) return;
    count.replaceWith(errorBox(err, render));
    return;
  }
  if (gen !== generation) return;
  showAccount();
  const setCount = () => {
    const n = tbody.rows.length;
    count.textContent = n ? `${n} ${n === 1 ? 'tag' : 'tags'}` : 'No tags in this repository.';
    wrap.hidden = n === 0;
  };
  const rows = tags.map((tag) => {
    const cells = {
      digest: h('td', {}, '…'), platform: h('td', {}, ''), size: h('td', { class: 'num' }, ''),
      created: h('td', {}, ''),
    };
    const del = h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete tag ${tag}` }, 'Delete');
    const row = h('tr', { 'data-tag': tag },
      h('th', { scope: 'row' }, h('a', { href: refHref(name, tag) }, tag)),
      cells.digest, cells.platform, cells.size, cells.created,
      h('td', { class: 'row-actions' },
        h('button', { type: 'button', class: 'small', 'aria-label': `Copy pull command for ${tag}`,
          onclick: () => copyText(pullCommand(name, tag)) }, 'Copy pull'),
        del));
    del.addEventListener('click', async () => {
      if (await deleteTag(name, tag, note)) {
        row.remove();
        setCount();
      }
    });
    return { tag, row, cells };
  });
  fill(tbody, rows.map((r) => r.row));
  setCount();

  await pool(rows, 4, async ({ tag, cells }) => {
    if (gen !== generation) return;
    try {
      const s = await tagSummary(name, tag);
      fill(cells.digest, digestEl(s.digest));
      fill(cells.platform, h('span', { title: s.platforms || s.kind || '' }, s.platforms || s.kind || '—'),
        isIndex(s.mediaType) ? h('span', { class: 'badge' }, s.kind) : null);
      fill(cells.size, h('span', { title: s.size !== undefined ? `${s.size} bytes${s.sizeNote ? ` (${s.sizeNote})` : ''}` : '' },
        formatBytes(s.size)));
      fill(cells.created, timeEl(s.created));
    } catch (err) {
      fill(cells.digest, h('span', { class: 'error-text', title: err.message }, 'unavailable'));
    }
  });
}

// ---- #/repo/NAME/tag/REF : one manifest ------------------------------------------------

function section(title, ...content) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...content);
}

function definitions(pairs) {
  const items = pairs.filter(([, v]) => v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && !v.length));
  if (!items.length) return h('p', { class: 'muted' }, 'Nothing recorded.');
  return h('dl', { class: 'facts' }, items.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function keyValueTable(obj, caption) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h('p', { class: 'muted' }, 'None.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'kv' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, h('code', {}, k)),
      h('td', { class: 'wrap' }, typeof v === 'string' ? v : JSON.stringify(v)))))));
}

const listOrNull = (a) => (Array.isArray(a) && a.length ? h('code', { class: 'wrap' }, a.join(' ')) : null);

function configSection(name, cfgDesc, config) {
  if (!config) {
    return section('Config', definitions([
      ['Media type', typeEl(cfgDesc.mediaType)], ['Digest', digestEl(cfgDesc.digest)], ['Size', formatBytes(cfgDesc.size)],
    ]));
  }
  const c = config.config || {};
  const ports = Object.keys(c.ExposedPorts || {});
  return section('Config',
    definitions([
      ['Created', config.created ? [timeEl(config.created), h('span', { class: 'muted small' }, ` ${config.created}`)] : null],
      ['Platform', platformString(config)],
      ['Author', config.author],
      ['Entrypoint', listOrNull(c.Entrypoint)],
      ['Command', listOrNull(c.Cmd)],
      ['Working directory', c.WorkingDir ? h('code', {}, c.WorkingDir) : null],
      ['User', c.User ? h('code', {}, c.User) : null],
      ['Exposed ports', ports.length ? ports.join(', ') : null],
      ['Stop signal', c.StopSignal],
      ['Environment', (c.Env || []).length ? h('ul', { class: 'plain' }, c.Env.map((e) => h('li', {}, h('code', { class: 'wrap' }, e)))) : null],
      ['History', config.history ? `${config.history.length} step${config.history.length === 1 ? '' : 's'}` : null],
      ['Config digest', digestEl(cfgDesc.digest)],
    ]),
    c.Labels && Object.keys(c.Labels).length ? [h('h3', {}, 'Labels'), keyValueTable(c.Labels, 'Labels')] : null);
}

function layersSection(m) {
  const layers = m.layers || [];
  const total = layerSize(m);
  return section(`Layers (${layers.length})`,
    h('div', { class: 'table-wrap' }, h('table', { class: 'layers' },
      h('caption', { class: 'visually-hidden' }, 'Layers'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num narrow' }, '#'), h('th', { scope: 'col' }, 'Digest'),
        h('th', { scope: 'col' }, 'Media type'), h('th', { scope: 'col', class: 'num' }, 'Size'))),
      h('tbody', {}, layers.map((l, i) => h('tr', {},
        h('td', { class: 'num' }, i + 1), h('td', {}, digestEl(l.digest)), h('td', {}, typeEl(l.mediaType)),
        h('td', { class: 'num', title: `${l.size} bytes` }, formatBytes(l.size))))),
      h('tfoot', {}, h('tr', {}, h('th', { scope: 'row', colspan: 3 }, 'Total'),
        h('td', { class: 'num', title: `${total} bytes` }, formatBytes(total)))))));
}

function platformsSection(name, m) {
  const children = m.manifests || [];
  return section(`Platforms (${children.length})`,
    h('div', { class: 'table-wrap' }, h('table', { class: 'platforms' },
      h('caption', { class: 'visually-hidden' }, 'Platforms'),
      h('thead', {}, h('tr', {}, ['Platform', 'Digest', 'Media type', 'Size'].map((t) => h('th', { scope: 'col', class: t === 'Size' ? 'num' : null }, t)))),
      h('tbody', {}, children.map((d) => h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: refHref(name, d.digest) },
          d.platform?.os === 'unknown' ? `attestation${d.annotations?.['vnd.docker.reference.type'] ? ` (${d.annotations['vnd.docker.reference.type']})` : ''}` : platformString(d.platform))),
        h('td', {}, digestEl(d.digest)), h('td', {}, typeEl(d.mediaType)),
        h('td', { class: 'num' }, formatBytes(d.size))))))));
}

function referrersSection(name, list) {
  if (list instanceof Error) return section('Referrers', errorBox(list));
  return section(`Referrers (${list.length})`,
    list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'referrers' },
      h('caption', { class: 'visually-hidden' }, 'Referrers'),
      h('thead', {}, h('tr', {}, ['Artifact type', 'Digest', 'Created', 'Size'].map((t) => h('th', { scope: 'col', class: t === 'Size' ? 'num' : null }, t)))),
      h('tbody', {}, list.map((d) => h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: refHref(name, d.digest) }, d.artifactType || d.mediaType || 'unknown')),
        h('td', {}, digestEl(d.digest)),
        h('td', {}, timeEl(d.annotations?.['org.opencontainers.image.created'])),
        h('td', { class: 'num' }, formatBytes(d.size)))))))
      : h('p', { class: 'muted' }, 'No signatures, SBOMs or other artifacts refer to this manifest.'));
}

async function viewManifest(gen, name, ref) {
  const byDigest = ref.includes(':');
  const title = byDigest ? `${name}@${shortDigest(ref)}` : `${name}:${ref}`;
  const note = h('div');
  const body = h('div', { class: 'stack' }, h('p', { class: 'muted' }, 'Loading manifest…'));
  page(title, [['Repositories', '#/'], [name, repoHref(name)], [byDigest ? shortDigest(ref) : ref, null]],
    h('div', { class: 'page-head' }, h('h1', {}, title)), note, body);

  let m;
  try {
    m = await api.manifest(name, ref);
  } catch (err) {
    if (gen !== generation) return;
    fill(body, errorBox(err, render));
    return;
  }
  const doc = m.body;
  const [config, refs] = await Promise.all([
    doc.config && isImageConfig(doc.config.mediaType) && doc.config.size < 1 << 20
      ? api.blobJSON(name, doc.config.digest).catch(() => null) : null,
    m.digest ? api.referrers(name, m.digest).catch((e) => e) : [],
  ]);
  if (gen !== generation) return;
  showAccount();

  const actions = h('div', { class: 'page-actions' });
  if (!byDigest) {
    actions.append(h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (await deleteTag(name, ref, note)) location.hash = repoHref(name);
    } }, 'Delete tag'));
  }
  const summary = section('Summary',
    h('div', { class: 'commands' },
      byDigest ? null : commandBox('Pull by tag', pullCommand(name, ref)),
      m.digest ? commandBox('Pull by digest', pullCommand(name, m.digest)) : null),
    definitions([
      ['Digest', m.digest ? h('code', { class: 'wrap' }, m.digest) : null],
      ['Media type', typeEl(m.mediaType)],
      ['Artifact type', doc.artifactType ? h('code', {}, doc.artifactType) : null],
      ['Manifest size', formatBytes(m.size)],
      ['Layers size', isIndex(m.mediaType) ? null : formatBytes(layerSize(doc))],
      ['Created', config?.created ? timeEl(config.created) : null],
      ['Platform', config ? platformString(config) : null],
      ['Subject', doc.subject ? h('a', { href: refHref(name, doc.subject.digest) }, doc.subject.digest) : null],
    ]),
    actions.childElementCount ? actions : null);

  fill(body,
    summary,
    isIndex(m.mediaType) ? platformsSection(name, doc) : null,
    !isIndex(m.mediaType) ? layersSection(doc) : null,
    doc.config ? configSection(name, doc.config, config) : null,
    section('Annotations', keyValueTable(doc.annotations, 'Annotations')),
    referrersSection(name, refs),
    h('details', { class: 'card raw' }, h('summary', {}, 'Manifest JSON'),
      h('pre', {}, JSON.stringify(doc, null, 2))));
}

// ---- routing ---------------------------------------------------------------------

function parseHash() {
  let hash = location.hash.replace(/^#\/?/, '');
  try { hash = decodeURIComponent(hash); } catch { /* not %-encoded after all */ }
  const m = /^repo\/(.+?)(?:\/(tag|digest)\/([^/]+))?\/?$/.exec(hash);
  if (!m) return { view: 'repos' };
  return m[3] ? { view: 'manifest', name: m[1], ref: m[3] } : { view: 'repo', name: m[1] };
}

function render() {
  const gen = ++generation;
  statusBox.classList.remove('shown');
  const r = parseHash();
  const run = r.view === 'manifest' ? viewManifest(gen, r.name, r.ref)
    : r.view === 'repo' ? viewRepository(gen, r.name) : viewRepositories(gen);
  run.catch((err) => { if (gen === generation) fill(main, errorBox(err, render)); });
}

document.getElementById('host').textContent = location.host;
window.addEventListener('hashchange', render);
document.addEventListener('keydown', (e) => {
  const search = document.getElementById('repo-search');
  if (e.key === '/' && search && document.activeElement !== search && !e.target.closest('input, textarea, dialog')) {
    e.preventDefault();
    search.focus();
  }
});
showAccount();
render();
