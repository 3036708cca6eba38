// A Bulk Data Access (IG v2) export client: kick-off, polling, download,
// delete — the flow of the IG's export page, step by step, with each step's
// response checked against what the IG requires of a server. No npm bulk
// data client is in this project's registry list, so this one is ours.
//
//   import { bulkExport } from './bulk-export.mjs'
//   const r = await bulkExport('http://127.0.0.1:8080/fhir', '$export', { _type: 'Patient' })
//   // r.manifest, r.counts { Patient: 3 }, r.resources [{ type, id, versionId, lastUpdated }]
//
// As a program: node bulk-export.mjs BASE KICKOFF_PATH [name=value ...]
//               node bulk-export.mjs --poll STATUS_URL
// prints one line of JSON: the counts per type and the number of files.
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';

export class BulkError extends Error {}

function check(cond, message) {
  if (!cond) throw new BulkError(message);
}

// Kick-off: GET with Prefer: respond-async; 202 and a Content-Location.
export async function kickoff(base, path, params = {}, headers = {}) {
  const url = new URL(`${base}/${path}`);
  for (const [name, value] of Object.entries(params)) {
    for (const v of [].concat(value)) url.searchParams.append(name, v);
  }
  const res = await fetch(url, {
    headers: { Accept: 'application/fhir+json', Prefer: 'respond-async', ...headers },
  });
  const body = await res.text();
  if (res.status !== 202) {
    const err = new BulkError(`kick-off ${url}: ${res.status} ${body.slice(0, 300)}`);
    err.status = res.status;
    err.body = body;
    throw err;
  }
  const location = res.headers.get('content-location');
  check(location, 'kick-off: 202 without Content-Location');
  return { statusUrl: new URL(location, url).href, request: url.href };
}

// Polls the status URL, honouring Retry-After, until 200 (the manifest) or
// an error status (thrown). onProgress sees each X-Progress.
export async function poll(statusUrl, { timeoutMs = 120000, onProgress } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(statusUrl, { headers: { Accept: 'application/json' } });
    if (res.status === 200) {
      check(/^application\/json/.test(res.headers.get('content-type') || ''),
        `manifest Content-Type ${res.headers.get('content-type')}`);
      const manifest = await res.json();
      checkManifest(manifest);
      return { manifest, expires: res.headers.get('expires') };
    }
    const body = await res.text();
    if (res.status !== 202) {
      const err = new BulkError(`status ${statusUrl}: ${res.status} ${body.slice(0, 300)}`);
      err.status = res.status;
      throw err;
    }
    if (onProgress) onProgress(res.headers.get('x-progress'));
    check(Date.now() < deadline, `export not done after ${timeoutMs} ms`);
    const retry = Number(res.headers.get('retry-after') || '1');
    check(Number.isFinite(retry) && retry >= 0, `Retry-After ${res.headers.get('retry-after')}`);
    await new Promise((r) => setTimeout(r, Math.min(retry, 5) * 1000));
  }
}

function checkManifest(m) {
  check(typeof m.transactionTime === 'string' && !Number.isNaN(Date.parse(m.transactionTime)),
    'manifest.transactionTime is not an instant');
  check(typeof m.request === 'string' && m.request.includes('$export'), 'manifest.request');
  check(typeof m.requiresAccessToken === 'boolean', 'manifest.requiresAccessToken');
  check(Array.isArray(m.output) && Array.isArray(m.error), 'manifest.output / error');
  for (const o of m.output) {
    check(typeof o.type === 'string' && typeof o.url === 'string', 'an output item lacks type or url');
  }
}

// Downloads one output file as a stream of lines (memory stays flat), checks
// each line is one resource of the file's type, and calls onResource.
export async function download(item, transactionTime, onResource) {
  const res = await fetch(item.url, { headers: { Accept: 'application/fhir+ndjson' } });
  check(res.status === 200, `GET ${item.url}: ${res.status}`);
  check(res.headers.get('content-type') === 'application/fhir+ndjson',
    `file Content-Type ${res.headers.get('content-type')}`);
  const lines = createInterface({ input: Readable.fromWeb(res.body), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    let r;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new BulkError(`${item.url} line ${n}: not JSON (${e.message})`);
    }
    check(r && typeof r === 'object' && !Array.isArray(r), `${item.url} line ${n}: not an object`);
    check(r.resourceType === item.type,
      `${item.url} line ${n}: a ${r.resourceType} in a file of ${item.type}`);
    check(typeof r.id === 'string' && /^[A-Za-z0-9\-.]{1,64}$/.test(r.id), `${item.url} line ${n}: id`);
    check(r.meta && typeof r.meta.versionId === 'string' && typeof r.meta.lastUpdated === 'string',
      `${item.url} line ${n}: meta.versionId / lastUpdated`);
    check(Date.parse(r.meta.lastUpdated) <= Date.parse(transactionTime),
      `${item.url} line ${n}: lastUpdated ${r.meta.lastUpdated} after transactionTime ${transactionTime}`);
    onResource(r);
  }
  if (item.count !== undefined) {
    check(n === item.count, `${item.url}: ${n} lines, the manifest says ${item.count}`);
  }
  return n;
}

// Cancels (or deletes the files of) a job: 202, then the status URL is 404.
export async function remove(statusUrl) {
  const res = await fetch(statusUrl, { method: 'DELETE' });
  await res.text();
  check(res.status === 202, `DELETE ${statusUrl}: ${res.status}`);
  const after = await fetch(statusUrl);
  await after.text();
  check(after.status === 404, `status after DELETE: ${after.status}`);
}

// The whole flow, from a status URL: poll, download every file, delete.
export async function finish(statusUrl, { keep = false, ...opts } = {}) {
  const { manifest, expires } = await poll(statusUrl, opts);
  const counts = {};
  const resources = [];
  for (const item of manifest.output) {
    counts[item.type] = (counts[item.type] || 0) +
      await download(item, manifest.transactionTime, (r) => resources.push({
        type: r.resourceType, id: r.id, versionId: r.meta.versionId, lastUpdated: r.meta.lastUpdated,
      }));
  }
  if (!keep) await remove(statusUrl);
  return { manifest, expires, counts, resources, files: manifest.output.length };
}

export async function bulkExport(base, path, params = {}, opts = {}) {
  const { statusUrl } = await kickoff(base, path, params, opts.headers);
  return { statusUrl, ...(await finish(statusUrl, opts)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const run = args[0] === '--poll'
    ? finish(args[1])
    : bulkExport(args[0], args[1], Object.fromEntries(args.slice(2).map((a) => a.split(/=(.*)/s).slice(0, 2))));
  run.then((r) => {
    console.log(JSON.stringify({ counts: r.counts, files: r.files, transactionTime: r.manifest.transactionTime }));
  }, (e) => {
    console.error(`bulk-export: ${e.message}`);
    process.exit(1);
  });
}
