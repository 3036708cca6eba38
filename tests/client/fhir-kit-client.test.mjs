// Drives a running lienthong with a real, independent FHIR client
// (fhir-kit-client, pinned in package-lock.json) through the R4 REST
// interactions: create, read, update, history, vread, If-Match, patch, delete.
//
//   LT_URL=http://127.0.0.1:PORT/fhir node --test tests/client/fhir-kit-client.test.mjs
//
// The steps run in order and share one Patient and one Observation. Where
// the check is about bytes (decimal text, UTF-8), the raw HTTP body is read
// with fetch(), since fhir-kit-client hands back JSON.parse'd objects and a
// JS number cannot tell 1.50 from 1.5.

import assert from 'node:assert/strict';
import { describe, test, before } from 'node:test';
import { Client } from 'fhir-kit-client';

const base = (process.env.LT_URL ?? '').replace(/\/+$/, '');
const FHIR_JSON = 'application/fhir+json';

/** The HTTP status of a rejected fhir-kit-client call (it throws on >= 400). */
async function statusOf(promise) {
	try {
		await promise;
	} catch (e) {
		if (e?.response?.status) return { status: e.response.status, data: e.response.data };
		throw e;
	}
	assert.fail('the request succeeded; an error status was expected');
}

function assertOperationOutcome(data, what) {
	assert.equal(data?.resourceType, 'OperationOutcome', `${what}: the error body is an OperationOutcome`);
	assert.ok(Array.isArray(data.issue) && data.issue.length > 0, `${what}: OperationOutcome has issues`);
	for (const issue of data.issue) {
		assert.ok(issue.severity, `${what}: issue.severity`);
		assert.ok(issue.code, `${what}: issue.code`);
	}
}

const headersOf = (result) => Client.httpFor(result).response.headers;

async function raw(method, url, { headers = {}, body } = {}) {
	const res = await fetch(url.startsWith('http') ? url : `${base}/${url}`, {
		method,
		headers: { accept: FHIR_JSON, ...headers },
		body,
	});
	return { status: res.status, headers: res.headers, text: await res.text() };
}

// "Nguyễn Thị Hồng" in NFC (precomposed), as Vietnamese keyboards send it.
const FAMILY = 'Nguyễn';
const GIVEN = ['Thị', 'Hồng'];
const FULL = `${FAMILY} ${GIVEN.join(' ')}`;

describe('fhir-kit-client against lienthong', { skip: !base && 'LT_URL is not set' }, () => {
	let client;
	let patientId;
	let created; // the version-1 Patient as the server returned it

	before(() => {
		assert.equal(FULL.normalize('NFC'), FULL);
		client = new Client({ baseUrl: base });
	});

	test('GET /metadata is an R4 CapabilityStatement', async () => {
		const cs = await client.capabilityStatement();
		assert.equal(cs.resourceType, 'CapabilityStatement');
		assert.equal(cs.fhirVersion, '4.0.1');
		assert.ok(headersOf(cs).get('content-type')?.startsWith(FHIR_JSON), 'content type is application/fhir+json');
	});

	test('create a Patient with a Vietnamese name: 201, Location, ETag W/"1"', async () => {
		const body = {
			resourceType: 'Patient',
			active: true,
			name: [{ use: 'official', text: FULL, family: FAMILY, given: GIVEN }],
			gender: 'female',
			birthDate: '1985-03-27',
			address: [{ line: ['12 Phố Huế'], city: 'Hà Nội', district: 'Hai Bà Trưng', country: 'VN' }],
		};
		const result = await client.create({ resourceType: 'Patient', body, options: { headers: { prefer: 'return=representation' } } });
		const { response } = Client.httpFor(result);
		assert.equal(response.status, 201);
		const location = response.headers.get('location');
		const m = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/Patient/([A-Za-z0-9.-]{1,64})/_history/1$`).exec(location ?? '');
		assert.ok(m, `Location ${location} is ${base}/Patient/{id}/_history/1`);
		patientId = m[1];
		assert.equal(response.headers.get('etag'), 'W/"1"');
		assert.equal(result.resourceType, 'Patient');
		assert.equal(result.id, patientId, 'the returned resource carries the id of the Location');
		assert.equal(result.meta?.versionId, '1');
		assert.deepEqual(result.name, body.name, 'diacritics survive, code point for code point');
		assert.deepEqual(result.address, body.address);
		created = result;
	});

	test('read it back: same content, ETag, Last-Modified, UTF-8 bytes', async () => {
		const p = await client.read({ resourceType: 'Patient', id: patientId });
		const h = headersOf(p);
		assert.equal(p.id, patientId);
		assert.equal(p.meta.versionId, '1');
		assert.deepEqual(p.name, created.name);
		assert.deepEqual(p, created, 'read returns what create returned');
		assert.equal(h.get('etag'), 'W/"1"');
		const lastModified = h.get('last-modified');
		assert.ok(lastModified, 'Last-Modified is present');
		const lm = Date.parse(lastModified);
		const lu = Date.parse(p.meta.lastUpdated);
		assert.ok(Number.isFinite(lm) && Number.isFinite(lu), `parsable: ${lastModified} / ${p.meta.lastUpdated}`);
		assert.equal(Math.floor(lm / 1000), Math.floor(lu / 1000), 'Last-Modified is meta.lastUpdated to the second');

		const r = await raw('GET', `Patient/${patientId}`);
		assert.equal(r.status, 200);
		assert.match(r.headers.get('content-type') ?? '', /^application\/fhir\+json(;\s*charset=utf-8)?$/i);
		// Sent as raw UTF-8 or as \u escapes, it must decode to the same code points.
		assert.equal(JSON.parse(r.text).name[0].text, FULL);
	});

	test('update: version 2, ETag W/"2"', async () => {
		const body = {
			...created,
			telecom: [{ system: 'phone', value: '+84 24 3825 3536', use: 'home' }],
		};
		delete body.meta;
		const updated = await client.update({ resourceType: 'Patient', id: patientId, body });
		const { response } = Client.httpFor(updated);
		assert.equal(response.status, 200);
		assert.equal(response.headers.get('etag'), 'W/"2"');
		const p = await client.read({ resourceType: 'Patient', id: patientId });
		assert.equal(p.meta.versionId, '2');
		assert.deepEqual(p.telecom, body.telecom);
		assert.deepEqual(p.name, created.name);
		assert.equal(headersOf(p).get('etag'), 'W/"2"');
	});

	test('instance history: 2 entries, newest first', async () => {
		const bundle = await client.history({ resourceType: 'Patient', id: patientId });
		assert.equal(bundle.resourceType, 'Bundle');
		assert.equal(bundle.type, 'history');
		assert.equal(bundle.entry?.length, 2);
		if (bundle.total !== undefined) assert.equal(bundle.total, 2);
		const [newest, oldest] = bundle.entry;
		assert.equal(newest.resource.meta.versionId, '2');
		assert.equal(oldest.resource.meta.versionId, '1');
		assert.ok(newest.resource.telecom, 'version 2 has the telecom');
		assert.equal(oldest.resource.telecom, undefined, 'version 1 has none');
		// bdl-3 and bdl-4: history entries carry request and response.
		assert.equal(newest.request?.method, 'PUT');
		assert.equal(oldest.request?.method, 'POST');
		for (const e of bundle.entry) {
			assert.ok(e.response?.status, 'entry.response.status');
			assert.ok(e.fullUrl?.endsWith(`/Patient/${patientId}`), `fullUrl ${e.fullUrl}`);
		}
	});

	test('vread version 1', async () => {
		const v1 = await client.vread({ resourceType: 'Patient', id: patientId, version: '1' });
		assert.deepEqual(v1, created);
		assert.equal(headersOf(v1).get('etag'), 'W/"1"');
	});

	test('If-Match with a stale version: 412 and an OperationOutcome; nothing written', async () => {
		const body = { resourceType: 'Patient', id: patientId, name: [{ family: 'Trần' }] };
		const { status, data } = await statusOf(
			client.update({ resourceType: 'Patient', id: patientId, body, options: { headers: { 'if-match': 'W/"1"' } } }),
		);
		assert.equal(status, 412);
		assertOperationOutcome(data, '412');
		const p = await client.read({ resourceType: 'Patient', id: patientId });
		assert.equal(p.meta.versionId, '2');
		assert.equal(p.name[0].family, FAMILY);
	});

	test('If-Match with the current version: accepted as version 3', async () => {
		const p = await client.read({ resourceType: 'Patient', id: patientId });
		delete p.meta;
		p.name[0].family = FAMILY; // unchanged content is still a new version
		p.birthDate = '1985-03-28';
		const updated = await client.update({ resourceType: 'Patient', id: patientId, body: p, options: { headers: { 'if-match': 'W/"2"' } } });
		assert.equal(headersOf(updated).get('etag'), 'W/"3"');
	});

	test('JSON Patch: version 4', async () => {
		const patched = await client.patch({
			resourceType: 'Patient',
			id: patientId,
			jsonPatch: [
				{ op: 'test', path: '/birthDate', value: '1985-03-28' },
				{ op: 'replace', path: '/gender', value: 'other' },
			],
		});
		assert.equal(headersOf(patched).get('etag'), 'W/"4"');
		const p = await client.read({ resourceType: 'Patient', id: patientId });
		assert.equal(p.gender, 'other');
		assert.equal(p.meta.versionId, '4');
		assert.deepEqual(p.name, created.name);
	});

	test('update with an id in the body that differs from the URL: 400', async () => {
		const body = { resourceType: 'Patient', id: `${patientId}x`, active: false };
		const { status, data } = await statusOf(client.update({ resourceType: 'Patient', id: patientId, body }));
		assert.equal(status, 400);
		assertOperationOutcome(data, '400');
	});

	test('an Observation keeps its decimal text (1.50 stays 1.50)', async () => {
		// JSON.stringify would write 1.5, so the body goes to fhir-kit-client as text.
		const text = `{"resourceType":"Observation","status":"final",
			"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"}],"text":"Đường huyết"},
			"subject":{"reference":"Patient/${patientId}"},
			"valueQuantity":{"value":1.50,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},
			"referenceRange":[{"low":{"value":0.50},"high":{"value":3.14159265358979323846264338327950288}}]}`;
		const obs = await client.create({ resourceType: 'Observation', body: text });
		const location = Client.httpFor(obs).response.headers.get('location');
		assert.match(location ?? '', /\/Observation\/[A-Za-z0-9.-]+\/_history\/1$/);
		const id = location.split('/').at(-3);

		for (const url of [`Observation/${id}`, `Observation/${id}/_history/1`]) {
			const r = await raw('GET', url);
			assert.equal(r.status, 200, url);
			assert.match(r.text, /"valueQuantity"\s*:\s*\{[^}]*"value"\s*:\s*1\.50[,}\s]/, `${url}: 1.50 as written`);
			assert.match(r.text, /"low"\s*:\s*\{\s*"value"\s*:\s*0\.50[,}\s]/, `${url}: 0.50 as written`);
			assert.match(r.text, /"value"\s*:\s*3\.14159265358979323846264338327950288[,}\s]/, `${url}: 36 digits as written`);
			assert.equal(JSON.parse(r.text).code.text, 'Đường huyết');
		}
		const r = await raw('GET', `Observation/${id}?_format=json`);
		assert.equal(r.status, 200, '_format=json');
		assert.match(r.text, /"value"\s*:\s*1\.50[,}\s]/, '_format=json: 1.50 as written');
		const pretty = await raw('GET', `Observation/${id}?_pretty=true`);
		assert.equal(pretty.status, 200, '_pretty=true');
		assert.match(pretty.text, /\n/, '_pretty=true: has line breaks');
		assert.match(pretty.text, /"value"\s*:\s*1\.50[,}\s]/, '_pretty=true: 1.50 as written');
	});

	test('Prefer: return=minimal and return=OperationOutcome on create', async () => {
		const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Lê' }] });
		const minimal = await raw('POST', 'Patient', { headers: { 'content-type': FHIR_JSON, prefer: 'return=minimal' }, body });
		assert.equal(minimal.status, 201);
		assert.ok(minimal.headers.get('location'));
		assert.equal(minimal.text, '', 'return=minimal: no body');
		const oo = await raw('POST', 'Patient', { headers: { 'content-type': 'application/json', prefer: 'return=OperationOutcome' }, body });
		assert.equal(oo.status, 201);
		assert.equal(JSON.parse(oo.text).resourceType, 'OperationOutcome');
	});

	test('type history lists newest first', async () => {
		const bundle = await client.history({ resourceType: 'Patient' });
		assert.equal(bundle.type, 'history');
		const times = bundle.entry.map((e) => Date.parse(e.resource?.meta?.lastUpdated ?? e.response?.lastModified));
		for (let k = 1; k < times.length; k++) assert.ok(times[k - 1] >= times[k], `entry ${k} is not newer than entry ${k - 1}`);
		assert.ok(bundle.entry.some((e) => e.resource?.id === patientId));
	});

	test('delete: 200 or 204; read -> 410; vread of version 1 still works', async () => {
		const deleted = await client.delete({ resourceType: 'Patient', id: patientId });
		const status = Client.httpFor(deleted).response.status;
		assert.ok(status === 200 || status === 204, `delete status ${status}`);
		if (status === 200) assert.equal(deleted.resourceType, 'OperationOutcome');

		const gone = await statusOf(client.read({ resourceType: 'Patient', id: patientId }));
		assert.equal(gone.status, 410);
		assertOperationOutcome(gone.data, '410');

		const v1 = await client.vread({ resourceType: 'Patient', id: patientId, version: '1' });
		assert.deepEqual(v1, created);

		const history = await client.history({ resourceType: 'Patient', id: patientId });
		assert.equal(history.entry.length, 5, 'create, update, update, patch, delete');
		assert.equal(history.entry[0].request?.method, 'DELETE');
		assert.equal(history.entry[0].resource, undefined, 'a delete entry has no resource');
	});

	test('read of an id that never existed: 404 with an OperationOutcome', async () => {
		const missing = await statusOf(client.read({ resourceType: 'Patient', id: 'no-such-patient-0' }));
		assert.equal(missing.status, 404);
		assertOperationOutcome(missing.data, '404');
	});

	test('invalid JSON: 400 with an OperationOutcome, never a 5xx', async () => {
		const r = await raw('POST', 'Patient', { headers: { 'content-type': FHIR_JSON }, body: '{"resourceType":"Patient",' });
		assert.equal(r.status, 400);
		assertOperationOutcome(JSON.parse(r.text), 'invalid JSON');
	});
});
