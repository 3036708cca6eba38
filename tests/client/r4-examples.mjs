// Round-trips every official FHIR R4 example (npm hl7.fhir.r4.examples@4.0.1, CC0)
// through a running lienthong:
//
//   1. POST /fhir/{resourceType} with the file's bytes as they are (Bundles too:
//      stored as resources, never processed as transactions), 16 at a time;
//   2. GET the Location of each created one and compare it with the original:
//      deep-equal apart from the top-level `id` and `meta`, numbers compared by
//      their exact JSON text (1.50 is not 1.5), object member order ignored;
//   3. check the rejections against tests/data/r4-examples-rejected.txt
//      (FILENAME<TAB>expression<TAB>rule, '#' comments; owned by the validator).
//      A file listed only for `{Type}.id` must be accepted: on create "if an id
//      is provided, the server SHALL ignore it" (R4 http.html#create).
//
// Fails (exit 1) if a file not listed is rejected, a listed file is accepted,
// a round-trip differs, or the server answers 5xx / without an OperationOutcome.
//
//   node tests/client/r4-examples.mjs [BASE_URL]     (default: $LT_URL)
//   env R4_EXAMPLES_CONCURRENCY=16, R4_EXAMPLES_ONLY=<substring filter>
//
// Numbers: node 20's JSON.parse turns 1.50 into 1.5 and has no source-text
// reviver, so this file carries a small JSON parser of its own that keeps
// each number's text (no extra npm dependency; `--self-check` proves it
// agrees with JSON.parse on every example file).

import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------
// JSON that keeps number text.

/** A JSON number, kept as the text it was written with. */
export class JsonNumber {
	constructor(text) {
		this.text = text;
	}
}

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Parses strict JSON (RFC 8259). Objects come back as null-prototype objects
 * (so a member called "__proto__" is just a member), numbers as JsonNumber.
 * Duplicate member names are an error: FHIR JSON forbids them and a silent
 * "last one wins" would hide a difference.
 */
export function parseJson(text) {
	let i = 0;
	const n = text.length;
	const fail = (what) => {
		throw new SyntaxError(`JSON: ${what} at offset ${i}`);
	};
	const ws = () => {
		for (;;) {
			const c = text.charCodeAt(i);
			if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
			else return;
		}
	};
	const str = () => {
		// text[i] === '"'
		const start = i;
		i++;
		let escaped = false;
		for (;;) {
			if (i >= n) fail('unterminated string');
			const c = text.charCodeAt(i);
			if (c === 0x22) break;
			if (c < 0x20) fail('control character in string');
			if (c === 0x5c) {
				escaped = true;
				i += 2;
			} else i++;
		}
		i++;
		const raw = text.slice(start, i);
		return escaped ? JSON.parse(raw) : raw.slice(1, -1);
	};
	const value = (depth) => {
		if (depth > 512) fail('nesting too deep');
		ws();
		const c = text[i];
		if (c === '{') {
			i++;
			const obj = Object.create(null);
			ws();
			if (text[i] === '}') {
				i++;
				return obj;
			}
			for (;;) {
				ws();
				if (text[i] !== '"') fail('expected member name');
				const key = str();
				if (Object.prototype.hasOwnProperty.call(obj, key)) fail(`duplicate member "${key}"`);
				ws();
				if (text[i] !== ':') fail("expected ':'");
				i++;
				obj[key] = value(depth + 1);
				ws();
				if (text[i] === ',') {
					i++;
					continue;
				}
				if (text[i] === '}') {
					i++;
					return obj;
				}
				fail("expected ',' or '}'");
			}
		}
		if (c === '[') {
			i++;
			const arr = [];
			ws();
			if (text[i] === ']') {
				i++;
				return arr;
			}
			for (;;) {
				arr.push(value(depth + 1));
				ws();
				if (text[i] === ',') {
					i++;
					continue;
				}
				if (text[i] === ']') {
					i++;
					return arr;
				}
				fail("expected ',' or ']'");
			}
		}
		if (c === '"') return str();
		if (text.startsWith('true', i)) {
			i += 4;
			return true;
		}
		if (text.startsWith('false', i)) {
			i += 5;
			return false;
		}
		if (text.startsWith('null', i)) {
			i += 4;
			return null;
		}
		NUMBER_RE.lastIndex = i;
		const m = NUMBER_RE.exec(text);
		if (!m) fail('unexpected character');
		i += m[0].length;
		return new JsonNumber(m[0]);
	};
	// A UTF-8 BOM is not JSON; refuse it rather than guess.
	const v = value(0);
	ws();
	if (i !== n) fail('trailing characters');
	return v;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JsonNumber);

function show(v) {
	if (v instanceof JsonNumber) return v.text;
	if (v === undefined) return '(absent)';
	const s = JSON.stringify(v, (_k, x) => (x instanceof JsonNumber ? `#${x.text}` : x));
	return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** First difference between two parsed values as "path: a != b", or null. */
export function firstDifference(a, b, where = '') {
	if (a instanceof JsonNumber || b instanceof JsonNumber) {
		if (a instanceof JsonNumber && b instanceof JsonNumber && a.text === b.text) return null;
		return `${where || '(root)'}: ${show(a)} != ${show(b)}`;
	}
	if (Array.isArray(a) || Array.isArray(b)) {
		if (!Array.isArray(a) || !Array.isArray(b)) return `${where}: ${show(a)} != ${show(b)}`;
		if (a.length !== b.length) return `${where}: array length ${a.length} != ${b.length}`;
		for (let k = 0; k < a.length; k++) {
			const d = firstDifference(a[k], b[k], `${where}[${k}]`);
			if (d) return d;
		}
		return null;
	}
	if (isObject(a) || isObject(b)) {
		if (!isObject(a) || !isObject(b)) return `${where}: ${show(a)} != ${show(b)}`;
		const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
		for (const k of keys) {
			const d = firstDifference(a[k], b[k], where ? `${where}.${k}` : k);
			if (d) return d;
		}
		return null;
	}
	return a === b ? null : `${where || '(root)'}: ${show(a)} != ${show(b)}`;
}

/** Drops the top-level members the server owns. */
function withoutServerMembers(resource) {
	const copy = Object.assign(Object.create(null), resource);
	delete copy.id;
	delete copy.meta;
	return copy;
}

// ---------------------------------------------------------------------------
// The run.

const EXAMPLES_DIR = path.join(here, 'node_modules', 'hl7.fhir.r4.examples');
const REJECTED_FILE = path.join(here, '..', 'data', 'r4-examples-rejected.txt');

async function listExamples() {
	const names = (await readdir(EXAMPLES_DIR)).filter(
		(f) => f.endsWith('.json') && f !== 'package.json' && f !== '.index.json',
	);
	return names.sort();
}

async function loadRejected() {
	const listed = new Map(); // file -> [{expression, rule}]
	if (!existsSync(REJECTED_FILE)) {
		console.log(`note: ${path.relative(process.cwd(), REJECTED_FILE)} does not exist: expecting no rejection`);
		return listed;
	}
	const text = await readFile(REJECTED_FILE, 'utf8');
	for (const line of text.split('\n')) {
		if (line.trim() === '' || line.startsWith('#')) continue;
		const [file, expression = '', rule = ''] = line.split('\t');
		if (!listed.has(file)) listed.set(file, []);
		listed.get(file).push({ expression, rule });
	}
	return listed;
}

async function pool(items, concurrency, work) {
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const k = next++;
			await work(items[k], k);
		}
	};
	await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

function describeOutcome(text) {
	try {
		const oo = JSON.parse(text);
		if (oo?.resourceType !== 'OperationOutcome' || !Array.isArray(oo.issue)) return null;
		const issue = oo.issue[0] ?? {};
		return {
			expression: (issue.expression ?? issue.location ?? []).join(','),
			code: issue.code ?? '',
			diagnostics: (issue.diagnostics ?? issue.details?.text ?? '').replace(/\s+/g, ' '),
		};
	} catch {
		return null;
	}
}

async function selfCheck() {
	const files = await listExamples();
	let bad = 0;
	for (const f of files) {
		const text = await readFile(path.join(EXAMPLES_DIR, f), 'utf8');
		const mine = JSON.parse(JSON.stringify(parseJson(text), (_k, x) => (x instanceof JsonNumber ? Number(x.text) : x)));
		if (!isDeepStrictEqual(mine, JSON.parse(text))) {
			console.log(`self-check: ${f}: parser disagrees with JSON.parse`);
			bad++;
		}
	}
	console.log(`self-check: ${files.length - bad}/${files.length} files parse the same as JSON.parse`);
	return bad === 0 ? 0 : 1;
}

async function main(argv) {
	if (argv.includes('--self-check')) return selfCheck();
	const base = (argv.find((a) => !a.startsWith('--')) ?? process.env.LT_URL ?? '').replace(/\/+$/, '');
	if (!base) {
		console.error('usage: node r4-examples.mjs BASE_URL   (or set LT_URL), e.g. http://127.0.0.1:8080/fhir');
		return 2;
	}
	if (!existsSync(EXAMPLES_DIR)) {
		console.error(`${EXAMPLES_DIR} is missing: run npm ci --prefix tests/client`);
		return 2;
	}
	const concurrency = Number(process.env.R4_EXAMPLES_CONCURRENCY ?? 16);
	const only = process.env.R4_EXAMPLES_ONLY;
	const listed = await loadRejected();
	const failures = [];
	const fail = (file, what) => failures.push(`${file}: ${what}`);

	let names = await listExamples();
	if (only) names = names.filter((f) => f.includes(only));
	for (const f of listed.keys()) {
		if (!only && !names.includes(f)) fail(f, 'listed in r4-examples-rejected.txt but there is no such example file');
	}

	// Which files are resources: a JSON object with a string resourceType.
	const examples = [];
	for (const f of names) {
		const text = await readFile(path.join(EXAMPLES_DIR, f), 'utf8');
		let doc;
		try {
			doc = parseJson(text);
		} catch (e) {
			console.log(`skip ${f}: not JSON (${e.message})`);
			continue;
		}
		if (!isObject(doc) || typeof doc.resourceType !== 'string') {
			console.log(`skip ${f}: not a resource`);
			continue;
		}
		examples.push({ file: f, type: doc.resourceType, bytes: Buffer.byteLength(text) });
	}

	// 1. Create.
	const t0 = performance.now();
	const created = [];
	const rejected = [];
	let postedBytes = 0;
	await pool(examples, concurrency, async (ex) => {
		const body = await readFile(path.join(EXAMPLES_DIR, ex.file));
		postedBytes += body.length;
		let res;
		let text;
		try {
			res = await fetch(`${base}/${ex.type}`, {
				method: 'POST',
				headers: {
					'content-type': 'application/fhir+json',
					accept: 'application/fhir+json',
					prefer: 'return=minimal',
				},
				body,
			});
			text = await res.text();
		} catch (e) {
			fail(ex.file, `POST /${ex.type}: ${e.cause?.code ?? e.message}`);
			return;
		}
		// AuditEvent is the server's own audit trail (decision 0016): kept by the
		// server, never written through the API.
		if (ex.type === 'AuditEvent') {
			if (res.status !== 405) fail(ex.file, `POST /AuditEvent -> ${res.status}, want 405`);
			return;
		}
		if (res.status === 201) {
			const location = res.headers.get('location');
			const want = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${ex.type}/([A-Za-z0-9.-]{1,64})/_history/1$`);
			const m = location && want.exec(location);
			if (!m) {
				fail(ex.file, `201 with Location ${JSON.stringify(location)}, want ${base}/${ex.type}/{id}/_history/1`);
				if (!location) return;
			}
			const etag = res.headers.get('etag');
			if (etag !== 'W/"1"') fail(ex.file, `201 with ETag ${JSON.stringify(etag)}, want W/"1"`);
			created.push({ ...ex, location: new URL(location, `${base}/`).href, id: m?.[1] });
			return;
		}
		const outcome = describeOutcome(text);
		if (res.status >= 500) fail(ex.file, `POST /${ex.type} -> ${res.status} (a client mistake is never a 5xx): ${text.slice(0, 200)}`);
		else if (res.status < 400) fail(ex.file, `POST /${ex.type} -> ${res.status}, want 201 or 4xx`);
		else if (!outcome) fail(ex.file, `POST /${ex.type} -> ${res.status} without an OperationOutcome: ${text.slice(0, 200)}`);
		rejected.push({ ...ex, status: res.status, outcome });
	});
	const t1 = performance.now();

	// 2. Read back and compare.
	let roundTripOk = 0;
	await pool(created, concurrency, async (ex) => {
		let res;
		let text;
		try {
			res = await fetch(ex.location, { headers: { accept: 'application/fhir+json' } });
			text = await res.text();
		} catch (e) {
			fail(ex.file, `GET ${ex.location}: ${e.cause?.code ?? e.message}`);
			return;
		}
		if (res.status !== 200) {
			fail(ex.file, `GET ${ex.location} -> ${res.status}: ${text.slice(0, 200)}`);
			return;
		}
		let got;
		try {
			got = parseJson(text);
		} catch (e) {
			fail(ex.file, `GET ${ex.location}: body is not JSON (${e.message})`);
			return;
		}
		const original = parseJson(await readFile(path.join(EXAMPLES_DIR, ex.file), 'utf8'));
		const problems = [];
		if (got.resourceType !== ex.type) problems.push(`resourceType ${show(got.resourceType)}`);
		if (ex.id && got.id !== ex.id) problems.push(`id ${show(got.id)} != Location's ${ex.id}`);
		if (!isObject(got.meta) || got.meta.versionId !== '1') problems.push(`meta.versionId ${show(got.meta?.versionId)}, want "1"`);
		if (!isObject(got.meta) || typeof got.meta.lastUpdated !== 'string') problems.push('meta.lastUpdated missing');
		const d = firstDifference(withoutServerMembers(original), withoutServerMembers(got));
		if (d) problems.push(`differs: ${d}   (original != stored)`);
		// The spec lets a server set meta.versionId/lastUpdated/source; profiles,
		// tags and security labels the client sent should survive.
		for (const k of ['profile', 'tag', 'security']) {
			const dm = firstDifference(original.meta?.[k], got.meta?.[k], `meta.${k}`);
			if (dm) problems.push(`differs: ${dm}`);
		}
		if (problems.length) fail(ex.file, problems.join('; '));
		else roundTripOk++;
	});
	const t2 = performance.now();

	// 3. Rejections against the list.
	const unexpected = rejected.filter((r) => !listed.has(r.file));
	for (const r of unexpected) {
		const o = r.outcome ?? { expression: '', diagnostics: '' };
		fail(r.file, `rejected (${r.status}) but not listed: ${o.expression}\t${o.code}: ${o.diagnostics}`);
	}
	const acceptedNames = new Set(created.map((c) => c.file));
	let idOnly = 0;
	for (const [f, entries] of listed) {
		if (!acceptedNames.has(f)) continue;
		// "If an id is provided, the server SHALL ignore it" (R4 http.html#create):
		// a file listed only for its id is rightly accepted by POST.
		const type = examples.find((e) => e.file === f)?.type;
		if (type && entries.every((e) => e.expression === `${type}.id`)) idOnly++;
		else fail(f, 'listed in r4-examples-rejected.txt but accepted');
	}

	failures.sort();
	for (const line of failures) console.log(`FAIL ${line}`);
	const mib = (postedBytes / 1048576).toFixed(1);
	console.log(
		`r4-examples: ${examples.length} resources (${mib} MiB), accepted ${created.length}, ` +
			`rejected ${rejected.length} (${rejected.length - unexpected.length} listed as expected, ${unexpected.length} not), ` +
			(idOnly ? `${idOnly} listed only for their id and accepted (POST ignores the id), ` : '') +
			`round-trip OK ${roundTripOk}/${created.length}`,
	);
	console.log(
		`r4-examples: create ${((t1 - t0) / 1000).toFixed(1)} s, read back + compare ${((t2 - t1) / 1000).toFixed(1)} s, concurrency ${concurrency}`,
	);
	console.log(failures.length === 0 ? 'r4-examples: PASS' : `r4-examples: FAIL (${failures.length} problems)`);
	return failures.length === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
	process.exitCode = await main(process.argv.slice(2));
}
