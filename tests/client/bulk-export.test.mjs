// Bulk Data export end to end with our IG client (bulk-export.mjs) against a
// running server ($LT_URL), loaded here with plain PUTs: every file
// downloaded, every line checked, counts and ids compared with what was
// loaded. Run by tests/integration/bulk_export.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bulkExport, kickoff, poll, remove } from './bulk-export.mjs';

const base = process.env.LT_URL;
const PATIENTS = Number(process.env.BULK_PATIENTS || 60);
const OBS_PER_PATIENT = Number(process.env.BULK_OBS || 40);
const FILE_RESOURCES = Number(process.env.BULK_FILE_RESOURCES || 1000);

async function put(resource) {
  const res = await fetch(`${base}/${resource.resourceType}/${resource.id}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/fhir+json', Prefer: 'return=minimal' },
    body: JSON.stringify(resource),
  });
  await res.text();
  assert.ok(res.status === 200 || res.status === 201, `PUT ${resource.id}: ${res.status}`);
}

// Runs fn over items with `width` requests in flight.
async function each(items, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

const patientIds = Array.from({ length: PATIENTS }, (_, i) => `bp-${i}`);
const loaded = [];

test('the CapabilityStatement lists $export at its three levels', async () => {
  const cs = await (await fetch(`${base}/metadata`)).json();
  const defs = (ops) => (ops || []).map((o) => `${o.name} ${o.definition}`);
  const ig = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition';
  // Other operations ($import, $everything) are listed beside $export.
  assert.ok(defs(cs.rest[0].operation).includes(`export ${ig}/export`));
  const of = (type) => defs(cs.rest[0].resource.find((r) => r.type === type).operation);
  assert.ok(of('Patient').includes(`export ${ig}/patient-export`));
  assert.deepEqual(of('Group'), [`export ${ig}/group-export`]);
  assert.deepEqual(of('Observation'), []);
});

test('load with plain PUTs', async () => {
  assert.ok(base, 'LT_URL is not set');
  const all = [{ resourceType: 'Organization', id: 'bulk-org', name: 'Bệnh viện Nhân dân 115' }];
  for (const [i, id] of patientIds.entries()) {
    all.push({ resourceType: 'Patient', id, gender: i % 2 ? 'male' : 'female', birthDate: '1970-01-01',
      name: [{ family: 'Trần', given: ['Văn', `${i}`] }], managingOrganization: { reference: 'Organization/bulk-org' } });
    for (let k = 0; k < OBS_PER_PATIENT; k++) {
      all.push({ resourceType: 'Observation', id: `${id}-o${k}`, status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }], text: 'Glucose' },
        subject: { reference: `Patient/${id}` }, effectiveDateTime: '2026-01-02T08:00:00+07:00',
        valueQuantity: { value: 5.5 + k / 100, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } });
    }
  }
  all.push({ resourceType: 'Group', id: 'bulk-group', type: 'person', actual: true,
    member: patientIds.slice(0, 5).map((id) => ({ entity: { reference: `Patient/${id}` } })) });
  await each(all, 32, put);
  loaded.push(...all);
});

const key = (r) => `${r.resourceType || r.type}/${r.id}`;	// loaded: resourceType; exported: type

function expectExactly(result, expected) {
  const seen = new Set();
  for (const r of result.resources) {
    assert.ok(!seen.has(key(r)), `${key(r)} exported twice`);
    seen.add(key(r));
  }
  const want = new Set(expected.map(key));
  assert.deepEqual([...seen].filter((k) => !want.has(k)), [], 'exported but not expected');
  assert.deepEqual([...want].filter((k) => !seen.has(k)), [], 'expected but not exported');
}

test('system level: every resource once, files split', async () => {
  const r = await bulkExport(base, '$export');
  expectExactly(r, loaded);
  assert.equal(r.counts.Observation, PATIENTS * OBS_PER_PATIENT);
  assert.equal(r.manifest.output.filter((o) => o.type === 'Observation').length,
    Math.ceil((PATIENTS * OBS_PER_PATIENT) / FILE_RESOURCES));
  assert.equal(r.manifest.requiresAccessToken, false);
  assert.deepEqual(r.manifest.error, []);
  assert.ok(r.expires, 'Expires header on the manifest');
});

test('_type and _outputFormat', async () => {
  const r = await bulkExport(base, '$export', { _type: 'Patient,Organization', _outputFormat: 'ndjson' });
  expectExactly(r, loaded.filter((x) => x.resourceType === 'Patient' || x.resourceType === 'Organization'));
});

test('Patient level: the compartments, not the Organization', async () => {
  const r = await bulkExport(base, 'Patient/$export');
  expectExactly(r, loaded.filter((x) => x.resourceType !== 'Organization'));
});

test('Group level: the members only', async () => {
  const members = new Set(patientIds.slice(0, 5));
  const r = await bulkExport(base, 'Group/bulk-group/$export', { _type: 'Patient,Observation' });
  expectExactly(r, loaded.filter((x) => (x.resourceType === 'Patient' && members.has(x.id)) ||
    (x.resourceType === 'Observation' && members.has(x.subject.reference.slice(8)))));
});

test('_since = the last transactionTime gives exactly what changed since', async () => {
  const first = await bulkExport(base, '$export', { _type: 'Patient' });
  const changed = loaded.filter((x) => x.resourceType === 'Patient').slice(3, 6);
  await each(changed, 3, (p) => put({ ...p, active: true }));
  const r = await bulkExport(base, '$export', { _since: first.manifest.transactionTime });
  expectExactly(r, changed);
  for (const x of r.resources) assert.equal(x.versionId, '2');
});

test('client mistakes: OperationOutcome with a 4xx, never a job', async () => {
  const cases = [
    ['$export', {}, { Prefer: 'respond-sync' }, 400],
    ['$export', { _outputFormat: 'application/fhir+json' }, {}, 400],
    ['$export', { _type: 'Patient,NotAType' }, {}, 400],
    ['$export', { _since: 'yesterday' }, {}, 400],
    ['$export', { _typeFilter: 'Patient?gender=male' }, { Prefer: 'respond-async, handling=strict' }, 400],
    ['Group/no-such-group/$export', {}, {}, 404],
  ];
  for (const [path, params, headers, status] of cases) {
    await assert.rejects(kickoff(base, path, params, headers), (e) => {
      assert.equal(e.status, status, `${path} ${JSON.stringify(params)}: ${e.message}`);
      assert.equal(JSON.parse(e.body).resourceType, 'OperationOutcome');
      return true;
    });
  }
});

test('cancel: DELETE on the status URL, then 404', async () => {
  const { statusUrl } = await kickoff(base, '$export');
  await remove(statusUrl);
  await assert.rejects(poll(statusUrl), (e) => e.status === 404);
});
