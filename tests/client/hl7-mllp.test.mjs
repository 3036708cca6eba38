// HL7 v2 over MLLP with a real client (@medplum/hl7's Hl7Client), against a
// running `lienthong serve --mllp`: LT_MLLP=HOST:PORT and LT_URL=http://…/fhir.
// An ADT and an ORU are acknowledged AA and their resources are found over
// FHIR; the same message again is acknowledged with the same ACK and creates
// nothing; a bad value gets AE with an ERR segment and stores nothing; an
// unsupported message type gets AR; enhanced mode gets a commit ACK (CA).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';

const [host, port] = (process.env.LT_MLLP || '').split(/:(?=\d+$)/);
const base = process.env.LT_URL;
if (!host || !port || !base) throw new Error('set LT_MLLP=HOST:PORT and LT_URL');

const CCCD = '079201001234';
const stamp = Date.now().toString(36);	// control ids unique per run

function msg(lines) {
	return Hl7Message.parse(lines.join('\r'));
}

function header(type, id, extra = '') {
	return `MSH|^~\\&|LIS|CHORAY|LIENTHONG|SOYTE|20261122083000||${type}|${id}|P|2.5.1${extra}`;
}

const pid = `PID|1||${CCCD}^^^BCA^NI~MR${stamp}^^^CHORAY^MR||Nguyễn^Văn An||19800101|M|||12 Lê Lợi^^Hồ Chí Minh^^700000^VNM`;

function oru(id, value = '13.5') {
	const obx = [];
	const tests = [['718-7', 'Hemoglobin', 'g/dL', '12.0-16.0'], ['6690-2', 'WBC', '10*3/uL', '4.0-10.0'],
		['789-8', 'RBC', '10*6/uL', '4.2-5.4'], ['4544-3', 'Hematocrit', '%', '37-47'],
		['787-2', 'MCV', 'fL', '80-100'], ['785-6', 'MCH', 'pg', '27-33'], ['786-4', 'MCHC', 'g/dL', '32-36'],
		['777-3', 'Platelets', '10*3/uL', '150-400'], ['770-8', 'Neutrophils', '%', '40-70'],
		['736-9', 'Lymphocytes', '%', '20-40']];
	tests.forEach(([code, name, unit, range], i) => {
		const v = i === 0 ? value : (10 + i).toString();
		obx.push(`OBX|${i + 1}|NM|${code}^${name}^LN||${v}|${unit}^^UCUM|${range}|N|||F|||20261122080000`);
	});
	return msg([header('ORU^R01^ORU_R01', id), pid,
		`OBR|1|ORD-${id}|FIL-${id}|58410-2^CBC panel^LN|||20261122080000|||||||||||||||20261122082500||HM|F`,
		...obx]);
}

async function fhir(path) {
	const r = await fetch(`${base}/${path}`, { headers: { Accept: 'application/fhir+json' } });
	assert.equal(r.status, 200, `${path}: ${r.status}`);
	return r.json();
}

async function count(path) {
	return (await fhir(`${path}${path.includes('?') ? '&' : '?'}_summary=count`)).total;
}

async function send(m) {
	const client = new Hl7Client({ host, port: Number(port) });
	try {
		return await client.sendAndWait(m);
	} finally {
		await client.close();
	}
}

const ackCode = (ack) => ack.getSegment('MSA')?.getField(1)?.toString();

test('ADT^A01 is acknowledged AA and the patient is found by CCCD', async () => {
	const ack = await send(msg([header('ADT^A01^ADT_A01', `ADT-${stamp}`), 'EVN|A01|20261122083000', pid,
		'PV1|1|I|NOI^101^1^CHORAY||||||||||||||||V' + stamp]));
	assert.equal(ackCode(ack), 'AA', ack.toString());
	assert.equal(ack.getSegment('MSA').getField(2).toString(), `ADT-${stamp}`);
	assert.equal(await count(`Patient?identifier=${CCCD}`), 1);
});

test('ORU^R01: one report, ten observations; the same message again changes nothing', async () => {
	const id = `ORU-${stamp}`;
	const first = await send(oru(id));
	assert.equal(ackCode(first), 'AA', first.toString());
	const patient = (await fhir(`Patient?identifier=${CCCD}`)).entry[0].resource.id;
	assert.equal(await count(`Observation?subject=Patient/${patient}`), 10);
	assert.equal(await count(`DiagnosticReport?subject=Patient/${patient}`), 1);
	const hb = (await fhir(`Observation?subject=Patient/${patient}&code=http://loinc.org|718-7`)).entry[0].resource;
	assert.equal(hb.valueQuantity.value, 13.5);
	assert.equal(hb.valueQuantity.unit ?? hb.valueQuantity.code, 'g/dL');

	const again = await send(oru(id));
	assert.equal(ackCode(again), 'AA');
	assert.equal(again.toString(), first.toString(), 'a repeated message gets the same ACK');
	assert.equal(await count(`Observation?subject=Patient/${patient}`), 10);
	assert.equal(await count(`Observation?subject=Patient/${patient}&_lastUpdated=gt2000-01-01`), 10);
});

test('a value that is not a number: AE with ERR naming OBX-5, nothing stored', async () => {
	const before = await count('Observation');
	const ack = await send(oru(`BAD-${stamp}`, 'abc'));
	assert.equal(ackCode(ack), 'AE', ack.toString());
	const err = ack.getSegment('ERR');
	assert.ok(err, 'an ERR segment');
	assert.match(err.toString(), /OBX/);
	assert.equal(await count('Observation'), before);
});

test('an unsupported message type is rejected: AR', async () => {
	const ack = await send(msg([header('QRY^A19^QRY_A19', `QRY-${stamp}`), `QRD|20261122|R|I|Q1|||10^RD|${CCCD}|DEM`]));
	assert.equal(ackCode(ack), 'AR', ack.toString());
	assert.ok(ack.getSegment('ERR'));
});

test('enhanced mode (MSH-15 AL): the commit acknowledgment CA', async () => {
	const m = oru(`ENH-${stamp}`);
	m.getSegment('MSH').setField(15, 'AL');
	m.getSegment('MSH').setField(16, 'NE');
	const ack = await send(m);
	assert.equal(ackCode(ack), 'CA', ack.toString());
});
