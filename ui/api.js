// api.js - the registry API as the web UI uses it: the OCI distribution
// endpoints only, with Basic or Bearer (token) authentication.
//
// A request goes out with what is already known (Basic credentials, or a
// token cached for its scope). On a 401 the WWW-Authenticate challenge says
// what to do: Basic - ask the user for credentials and retry; Bearer - get a
// token from the challenge's realm (with the user's credentials, or none for
// an anonymous token) and retry, asking for credentials when that is not
// enough. Credentials live in sessionStorage (this tab only), tokens in
// memory. Requests use credentials: 'omit' so the browser never shows its
// own password prompt nor reuses credentials it cached elsewhere.

const CREDS_KEY = 'berth.credentials';
const SCHEME_KEY = 'berth.scheme';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---- credentials ----------------------------------------------------------

let prompt = null;        // async (reason) => {username, password} | null
let pendingPrompt = null; // one login form at a time, shared by every request
const tokens = new Map(); // scope + user -> {token, expires}

export function setCredentialPrompt(fn) { prompt = fn; }

function loadCreds() {
  try {
    const c = JSON.parse(sessionStorage.getItem(CREDS_KEY) || 'null');
    return c && typeof c.username === 'string' ? c : null;
  } catch {
    return null;
  }
}

export function currentUser() { return loadCreds()?.username ?? null; }

export function signOut() {
  sessionStorage.removeItem(CREDS_KEY);
  sessionStorage.removeItem(SCHEME_KEY);
  tokens.clear();
}

// `used`: the credentials the failed request carried. When others were
// entered meanwhile (another request asked), those are tried first.
function askCredentials(used) {
  const stored = loadCreds();
  if (stored && (stored.username !== used?.username || stored.password !== used?.password))
    return Promise.resolve(stored);
  if (!prompt) return Promise.resolve(null);
  if (!pendingPrompt) {
    const reason = used ? 'refused' : 'needed';
    pendingPrompt = prompt(reason).then((c) => {
      pendingPrompt = null;
      if (c) {
        sessionStorage.setItem(CREDS_KEY, JSON.stringify(c));
        tokens.clear();
      }
      return c;
    });
  }
  return pendingPrompt;
}

function basicHeader(c) {
  const bytes = new TextEncoder().encode(`${c.username}:${c.password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return 'Basic ' + btoa(bin);
}

// WWW-Authenticate: Bearer realm="…",service="…",scope="…" -> {scheme, params}
export function parseChallenge(header) {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header || '');
  if (!m) return { scheme: '', params: {} };
  const params = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p;
  while ((p = re.exec(m[2])) !== null)
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

// The scope the server will ask for, so a cached token can go out at once.
function scopeOf(path, method) {
  if (path.startsWith('/v2/_catalog')) return 'registry:catalog:*';
  const m = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\//.exec(path);
  if (!m) return '';
  return `repository:${m[1]}:${method === 'DELETE' ? 'delete' : 'pull'}`;
}

function cachedToken(scope, creds) {
  const t = tokens.get(`${scope}|${creds?.username ?? ''}`);
  return t && t.expires > Date.now() ? t.token : null;
}

// Ask the token service named by a Bearer challenge. The built-in service
// answers on this server; a realm on another origin is tried at the same
// path here first (a proxy often renames the host), then as given.
async function fetchToken(challenge, creds) {
  const { realm, service, scope } = challenge.params;
  if (!realm) return null;
  const query = new URLSearchParams();
  if (service) query.append('service', service);
  for (const s of (scope || '').split(' ').filter(Boolean)) query.append('scope', s);
  const target = new URL(realm, location.href);
  const urls = [];
  if (target.origin !== location.origin) urls.push(new URL(target.pathname, location.origin));
  urls.push(target);
  for (const url of urls) {
    url.search = query.toString();
    let resp;
    try {
      resp = await fetch(url, {
        headers: creds ? { Authorization: basicHeader(creds) } : {},
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      continue;   // unreachable, or refused by the page's content security policy
    }
    if (resp.status === 404 && url !== target) continue;
    if (!resp.ok) return null;
    const body = await resp.json().catch(() => ({}));
    const token = body.token || body.access_token;
    if (!token) return null;
    const ttl = Math.max(10, Number(body.expires_in) || 60) - 5;
    tokens.set(`${scope || ''}|${creds?.username ?? ''}`, { token, expires: Date.now() + ttl * 1000 });
    return token;
  }
  return null;
}

// ---- requests -----------------------------------------------------------------

// fetch a registry path, authenticating as the server asks. Returns the
// Response (a 401 only when the user cancelled the login form).
export async function request(path, { method = 'GET', headers = {} } = {}) {
  let creds = loadCreds();
  let bearer = null;
  const tried = new Set();
  for (let attempt = 0; attempt < 6; attempt++) {
    const h = new Headers(headers);
    const scheme = sessionStorage.getItem(SCHEME_KEY);
    let sentBasic = false;
    if (bearer) h.set('Authorization', `Bearer ${bearer}`);
    else if (scheme === 'bearer') {
      const t = cachedToken(scopeOf(path, method), creds);
      if (t) h.set('Authorization', `Bearer ${t}`);
    } else if (creds) {
      h.set('Authorization', basicHeader(creds));
      sentBasic = true;
    }

    const resp = await fetch(path, { method, headers: h, credentials: 'omit', cache: 'no-store' });
    if (resp.status !== 401) return resp;
    const challenge = parseChallenge(resp.headers.get('WWW-Authenticate'));
    if (challenge.scheme === 'bearer') {
      sessionStorage.setItem(SCHEME_KEY, 'bearer');
      const key = `${challenge.params.scope || ''}|${creds?.username ?? ''}`;
      if (!tried.has(key)) {
        tried.add(key);
        bearer = await fetchToken(challenge, creds);
        if (bearer) continue;
      }
    } else {
      sessionStorage.setItem(SCHEME_KEY, 'basic');
      if (creds && !sentBasic) continue;   // now it is known to be Basic
    }
    const asked = await askCredentials(creds);
    if (!asked) return resp;
    creds = asked;
    bearer = null;
    tried.clear();
  }
  throw new ApiError(401, 'UNAUTHORIZED', 'authentication did not succeed');
}

async function errorOf(resp) {
  let code = '', detail = '';
  try {
    const body = await resp.json();
    const e = body.errors?.[0];
    if (e) {
      code = e.code || '';
      detail = e.detail || e.message || '';
    }
  } catch { /* no JSON body */ }
  const text = `${resp.status} ${resp.statusText || ''}`.trim();
  return new ApiError(resp.status, code, `${text}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}`);
}

async function getJSON(path, headers) {
  const resp = await request(path, { headers });
  if (!resp.ok) throw await errorOf(resp);
  return { body: await resp.json(), resp };
}

// A paginated list (catalog, tags): follow Link rel="next".
async function list(path, field) {
  const out = [];
  let next = `${path}?n=1000`;
  for (let page = 0; next && page < 100; page++) {
    const { body, resp } = await getJSON(next);
    out.push(...(body[field] || []));
    const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(resp.headers.get('Link') || '');
    const url = link && new URL(link[1], location.href);
    next = url ? url.pathname + url.search : null;
  }
  return out;
}

const enc = (name) => name.split('/').map(encodeURIComponent).join('/');

export const catalog = () => list('/v2/_catalog', 'repositories');
export const tags = (name) => list(`/v2/${enc(name)}/tags/list`, 'tags');

const manifestCache = new Map(); // digest -> manifest (immutable)

// GET a manifest by tag or digest: {digest, mediaType, size, body}.
export async function manifest(name, ref) {
  if (ref.includes(':') && manifestCache.has(`${name}@${ref}`)) return manifestCache.get(`${name}@${ref}`);
  const resp = await request(`/v2/${enc(name)}/manifests/${encodeURIComponent(ref)}`,
    { headers: { Accept: MANIFEST_ACCEPT } });
  if (!resp.ok) throw await errorOf(resp);
  const text = await resp.text();
  const body = JSON.parse(text);
  let digest = resp.headers.get('Docker-Content-Digest');
  if (!digest && ref.includes(':')) digest = ref;
  if (!digest && crypto.subtle) {
    const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    digest = 'sha256:' + [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  const m = {
    digest,
    mediaType: body.mediaType || (resp.headers.get('Content-Type') || '').split(';')[0],
    size: new TextEncoder().encode(text).length,
    body,
  };
  if (digest) manifestCache.set(`${name}@${digest}`, m);
  return m;
}

const blobCache = new Map();

// A small JSON blob (an image config).
export async function blobJSON(name, digest) {
  const key = `${name}@${digest}`;
  if (!blobCache.has(key)) {
    blobCache.set(key, getJSON(`/v2/${enc(name)}/blobs/${digest}`).then((r) => r.body));
    blobCache.get(key).catch(() => blobCache.delete(key));
  }
  return blobCache.get(key);
}

// The referrers of a manifest (signatures, SBOMs, attestations).
export async function referrers(name, digest) {
  const resp = await request(`/v2/${enc(name)}/referrers/${digest}`,
    { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
  if (resp.status === 404) return [];
  if (!resp.ok) throw await errorOf(resp);
  const body = await resp.json();
  return body.manifests || [];
}

// DELETE a tag; throws an ApiError saying why the server refused.
export async function deleteTag(name, tag) {
  const resp = await request(`/v2/${enc(name)}/manifests/${encodeURIComponent(tag)}`, { method: 'DELETE' });
  if (!resp.ok) throw await errorOf(resp);
}
