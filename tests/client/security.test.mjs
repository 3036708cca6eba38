// The security matrix of issue 6 against a running server (security.sh sets
// it up): every refusal is a 401 or 403 with an OperationOutcome; the
// positive paths go through fhir-kit-client with a bearer token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Client } from 'fhir-kit-client';

const base = process.env.LT_URL; // http://HOST:PORT/fhir
const root = base.replace(/\/fhir$/, '');
const env = (k) => {
  assert.ok(process.env[k], `${k} is set`);
  return process.env[k];
};

async function tokenFor(id, secret, scope) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) body.set('scope', scope);
  const r = await fetch(`${root}/auth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64'),
    },
    body,
  });
  return { status: r.status, body: await r.json() };
}

async function call(method, path, token, { body, headers = {} } = {}) {
  const h = { accept: 'application/fhir+json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body) h['content-type'] = 'application/fhir+json';
  const r = await fetch(`${base}${path}`, { method, headers: h, body: body && JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, headers: r.headers };
}

function refused(r, status) {
  assert.equal(r.status, status);
  assert.equal(r.json?.resourceType, 'OperationOutcome', 'an OperationOutcome explains the refusal');
}

const b64url = (x) => Buffer.from(x).toString('base64url');

// A token signed with the server's own key but claims of our choosing.
function forge(claims, { alg = 'ES256', key = env('LT_KEY_FILE') } = {}) {
  const kid = basename(key, '.pem');
  const head = b64url(JSON.stringify({ alg, typ: 'JWT', kid }));
  const payload = b64url(JSON.stringify(claims));
  if (alg === 'none') return `${head}.${payload}.`;
  const sig = sign('sha256', Buffer.from(`${head}.${payload}`),
    { key: createPrivateKey(readFileSync(key)), dsaEncoding: 'ieee-p1363' });
  return `${head}.${payload}.${b64url(sig)}`;
}

const now = () => Math.floor(Date.now() / 1000);
const claimsA = (extra = {}) => ({
  iss: 'lienthong', aud: 'lienthong', sub: 'client/lis-a', iat: now(), exp: now() + 300,
  scope: 'system/*.cruds', tenant: '79001', ...extra,
});

let A, B; // tokens of the two facilities' systems

test('discovery documents are public', async () => {
  const smart = await (await fetch(`${root}/.well-known/smart-configuration`)).json();
  assert.equal(smart.token_endpoint, `${root}/auth/token`);
  const jwks = await (await fetch(`${root}/.well-known/jwks.json`)).json();
  assert.ok(jwks.keys.length >= 1 && jwks.keys[0].kty === 'EC' && !('d' in jwks.keys[0]),
    'public keys only');
  const meta = await fetch(`${base}/metadata`);
  assert.equal(meta.status, 200);
  const security = (await meta.json()).rest[0].security;
  assert.equal(security.service[0].coding[0].code, 'SMART-on-FHIR');
  const uris = security.extension.find(
    (e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
  for (const [name, key] of [['authorize', 'authorization_endpoint'], ['token', 'token_endpoint'],
    ['revoke', 'revocation_endpoint']]) {
    assert.equal(uris.extension.find((e) => e.url === name).valueUri, smart[key],
      `the CapabilityStatement and the discovery document name the same ${name} endpoint`);
  }
});

test('client credentials give a token; bad ones do not', async () => {
  const a = await tokenFor('lis-a', env('LT_SECRET_A'));
  assert.equal(a.status, 200);
  assert.equal(a.body.token_type, 'Bearer');
  assert.equal(a.body.scope, 'system/*.cruds');
  A = a.body.access_token;
  B = (await tokenFor('lis-b', env('LT_SECRET_B'))).body.access_token;
  assert.equal((await tokenFor('lis-a', 'wrong')).status, 401);
  assert.equal((await tokenFor('nobody', 'x')).status, 401);
  const narrowed = await tokenFor('lis-a', env('LT_SECRET_A'), 'system/Observation.rs');
  assert.equal(narrowed.body.scope, 'system/Observation.rs');
  const none = await tokenFor('reader-a', env('LT_SECRET_READER'), 'system/Observation.cruds');
  assert.equal(none.status, 400);
  assert.equal(none.body.error, 'invalid_scope');
  // Scopes with a query (?category=...) are not applied here, so not granted:
  // a token never claims more, or less, than the server enforces.
  const query = await tokenFor('lis-a', env('LT_SECRET_A'), 'system/Observation.rs?category=laboratory');
  assert.equal(query.status, 400);
  assert.equal(query.body.error, 'invalid_scope');
  const mixed = await tokenFor('lis-a', env('LT_SECRET_A'),
    'system/Patient.rs system/Observation.rs?category=laboratory');
  assert.equal(mixed.status, 200);
  assert.equal(mixed.body.scope, 'system/Patient.rs');
});

test('positive paths with a real client and a bearer token', async () => {
  const c = new Client({ baseUrl: base, customHeaders: { Authorization: `Bearer ${A}` } });
  for (const id of ['p1', 'p2']) {
    await c.update({ resourceType: 'Patient', id, body: { resourceType: 'Patient', id, name: [{ family: 'Nguyễn' }] } });
    await c.update({
      resourceType: 'Observation', id: `o-${id}`,
      body: { resourceType: 'Observation', id: `o-${id}`, status: 'final', code: { text: 'glucose' },
        subject: { reference: `Patient/${id}` } },
    });
  }
  const p = await c.read({ resourceType: 'Patient', id: 'p1' });
  assert.equal(p.name[0].family, 'Nguyễn');
  const s = await c.search({ resourceType: 'Observation', searchParams: { subject: 'Patient/p1' } });
  assert.equal(s.entry.length, 1);
});

test('no token, a bad token, a forged or expired one: 401', async () => {
  const r = await call('GET', '/Patient/p1');
  refused(r, 401);
  assert.match(r.headers.get('www-authenticate'), /^Bearer/);
  refused(await call('GET', '/Patient/p1', 'not-a-token'), 401);
  refused(await call('GET', '/Patient/p1', A.slice(0, -4) + (A.endsWith('AAAA') ? 'BBBB' : 'AAAA')), 401);
  refused(await call('GET', '/Patient/p1', forge(claimsA({ exp: now() - 3600 }))), 401);
  refused(await call('GET', '/Patient/p1', forge(claimsA(), { alg: 'none' })), 401);
  refused(await call('GET', '/Patient/p1', forge(claimsA({ aud: 'someone-else' }))), 401);
  refused(await call('GET', '/Patient/p1', forge(claimsA({ iss: 'evil' }))), 401);
  refused(await call('GET', '/Patient/p1', forge(claimsA({ sub: 'client/nobody' }))), 401);
  const { exp, ...noExp } = claimsA();
  refused(await call('GET', '/Patient/p1', forge(noExp)), 401);
  // HS256 with the public key as the HMAC secret: the classic confusion.
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: basename(env('LT_KEY_FILE'), '.pem') }));
  refused(await call('GET', '/Patient/p1', `${head}.${b64url(JSON.stringify(claimsA()))}.AAAA`), 401);
  // The forged token with good claims is accepted: the refusals above are the checks'.
  assert.equal((await call('GET', '/Patient/p1', forge(claimsA()))).status, 200);
});

test('wrong scope: 403', async () => {
  const reader = (await tokenFor('reader-a', env('LT_SECRET_READER'))).body.access_token;
  assert.equal((await call('GET', '/Patient/p1', reader)).status, 200);
  refused(await call('GET', '/Observation/o-p1', reader), 403);
  refused(await call('GET', '/Observation?subject=p1', reader), 403);
  refused(await call('PUT', '/Patient/p1', reader, { body: { resourceType: 'Patient', id: 'p1' } }), 403);
  refused(await call('POST', '/Patient', reader, { body: { resourceType: 'Patient' } }), 403);
  refused(await call('GET', '/Patient/p1/$everything', reader), 403);
  refused(await call('GET', '/_history', reader), 403);
  // A batch: the entry it may not write fails alone, with 403.
  const batch = await call('POST', '', reader, { body: { resourceType: 'Bundle', type: 'batch', entry: [
    { request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } },
    { request: { method: 'GET', url: 'Patient/p1' } },
  ] } });
  assert.equal(batch.status, 200);
  assert.match(batch.json.entry[0].response.status, /^403/);
  assert.match(batch.json.entry[1].response.status, /^200/);
  // Included resources of a type the token may not read are left out.
  const inc = await call('GET', '/Patient?_id=p1&_revinclude=Observation:subject', reader);
  assert.equal(inc.status, 200);
  assert.deepEqual(inc.json.entry.map((e) => e.resource.resourceType), ['Patient']);
});

test("another facility's data are out of reach by every path", async () => {
  refused(await call('GET', '/Patient/p1', A, { headers: { 'x-lienthong-tenant': '79002' } }), 403);
  refused(await call('GET', '/Patient/p1', B, { headers: { 'x-lienthong-tenant': '79001' } }), 403);
  assert.equal((await call('GET', '/Patient/p1', B)).status, 404);
  assert.equal((await call('GET', '/Patient/p1/_history', B)).status, 404);
  assert.equal((await call('GET', '/Patient/p1/_history/1', B)).status, 404);
  const paths = ['/Patient?_id=p1', '/Patient', '/Observation?subject=Patient/p1',
    '/Observation?subject:Patient.name=Nguyen', '/Patient?_has:Observation:subject:code:text=glucose',
    '/Observation?_include=Observation:subject', '/Patient?_revinclude=Observation:subject',
    '/?_type=Patient,Observation', '/_history', '/Patient/_history', '/Patient/p1/Observation'];
  for (const p of paths) {
    const r = await call('GET', p, B);
    assert.equal(r.status, 200, p);
    assert.equal((r.json.entry ?? []).filter((e) => e.resource).length, 0, `${p} shows nothing of 79001`);
  }
  assert.equal((await call('GET', '/Patient/p1/$everything', B)).status, 404);
  // A transaction of B cannot reach A's resources by a conditional reference.
  const tx = await call('POST', '', B, { body: { resourceType: 'Bundle', type: 'transaction', entry: [
    { request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation', status: 'final',
      code: { text: 'x' }, subject: { reference: 'Patient?_id=p1' } } },
  ] } });
  assert.equal(tx.status, 404);
  // $export of B holds none of A's data; A's job is invisible to B.
  const k = await fetch(`${base}/$export`, { headers: { authorization: `Bearer ${B}`, prefer: 'respond-async', accept: 'application/fhir+json' } });
  assert.equal(k.status, 202);
  const status = k.headers.get('content-location');
  let manifest;
  for (let i = 0; i < 100; i++) {
    const s = await fetch(status, { headers: { authorization: `Bearer ${B}` } });
    if (s.status === 200) { manifest = await s.json(); break; }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(manifest, 'the export finished');
  for (const o of manifest.output) {
    const text = await (await fetch(o.url, { headers: { authorization: `Bearer ${B}` } })).text();
    assert.ok(!text.includes('"p1"') && !text.includes('"p2"'), 'no resource of 79001');
  }
  assert.equal((await fetch(status, { headers: { authorization: `Bearer ${A}` } })).status, 404);
});

test('the warehouse reads a facility it names, and changes nothing', async () => {
  const wh = (await tokenFor('warehouse', env('LT_SECRET_WH'))).body.access_token;
  refused(await call('GET', '/Patient/p1', wh), 403);
  assert.equal((await call('GET', '/Patient/p1', wh, { headers: { 'x-lienthong-tenant': '79001' } })).status, 200);
  refused(await call('PUT', '/Patient/p1', wh, {
    headers: { 'x-lienthong-tenant': '79001' }, body: { resourceType: 'Patient', id: 'p1' } }), 403);
});

test("a patient's token reaches only that patient", async () => {
  const t = env('LT_TOKEN_PATIENT');
  assert.equal((await call('GET', '/Patient/p1', t)).status, 200);
  assert.equal((await call('GET', '/Observation/o-p1', t)).status, 200);
  refused(await call('GET', '/Patient/p2', t), 403);
  refused(await call('GET', '/Observation/o-p2', t), 403);
  refused(await call('GET', '/Patient/p2/$everything', t), 403);
  refused(await call('GET', '/Patient/p2/Observation', t), 403);
  refused(await call('GET', '/_history', t), 403);
  refused(await call('PUT', '/Patient/p1', t, { body: { resourceType: 'Patient', id: 'p1' } }), 403);
  const obs = await call('GET', '/Observation', t);
  assert.deepEqual(obs.json.entry.map((e) => e.resource.id), ['o-p1']);
  const pts = await call('GET', '/Patient', t);
  assert.deepEqual(pts.json.entry.map((e) => e.resource.id), ['p1']);
  assert.equal((await call('GET', '/Patient/p1/$everything', t)).status, 200);
});

test('break-the-glass: a clinician reads outside their scopes, with a reason, audited', async () => {
  const t = env('LT_TOKEN_CLINICIAN'); // user/Observation.rs only
  assert.equal((await call('GET', '/Observation/o-p2', t)).status, 200);
  refused(await call('GET', '/Patient/p2', t), 403);
  const r = await call('GET', '/Patient/p2', t, { headers: { 'x-break-glass': 'emergency: patient unconscious' } });
  assert.equal(r.status, 200);
  refused(await call('PUT', '/Patient/p2', t, {
    headers: { 'x-break-glass': 'x' }, body: { resourceType: 'Patient', id: 'p2' } }), 403);
  const reader = (await tokenFor('reader-a', env('LT_SECRET_READER'))).body.access_token;
  refused(await call('GET', '/Observation/o-p2', reader, { headers: { 'x-break-glass': 'x' } }), 403);
});

test('a locked account is refused, even with the right secret', async () => {
  const good = await tokenFor('lock-me', env('LT_SECRET_LOCK'));
  assert.equal(good.status, 200);
  for (let i = 0; i < 5; i++) assert.equal((await tokenFor('lock-me', 'wrong')).status, 401);
  const after = await tokenFor('lock-me', env('LT_SECRET_LOCK'));
  assert.equal(after.status, 401);
  assert.match(after.body.error_description, /locked/);
  await new Promise((r) => setTimeout(r, 2500)); // the account is looked up again
  refused(await call('GET', '/Patient/p1', good.body.access_token), 401);
});

test('a disabled account is refused, its tokens too', async () => {
  const { execFileSync } = await import('node:child_process');
  execFileSync(env('LIENTHONG'), ['client', 'disable', 'lis-b', '--data', env('LT_DATA')]);
  assert.equal((await tokenFor('lis-b', env('LT_SECRET_B'))).status, 401);
  await new Promise((r) => setTimeout(r, 2500));
  refused(await call('GET', '/Patient', B), 401);
});

test('who looked at my record', async () => {
  const r = await call('GET', '/AuditEvent?patient=Patient/p1', A);
  assert.equal(r.status, 200);
  assert.ok(r.json.entry.length > 0, 'accesses to p1 are listed');
  const who = new Set(r.json.entry.map((e) => e.resource.agent[0].who.display));
  assert.ok(who.has('client/lis-a') && who.has('user/bn-p1'), `who: ${[...who]}`);
});
