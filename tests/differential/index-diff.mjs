#!/usr/bin/env node
// The differential check of issue #3: for every resource of the given data
// sets, the search index values that lienthong's C extractor computes
// (tests/tools/index_dump.c) must equal what npm fhirpath computes from the
// spec's own expressions, normalised the same way per parameter type.
//
//   node tests/differential/index-diff.mjs --index-dump build/index_dump \
//     --examples tests/client/node_modules/hl7.fhir.r4.examples \
//     --synthea ../shared/data/synthea [--known tests/data/index-differential-known.tsv]
//
// Independence: the expressions come from Bundle-searchParams.json of the
// examples package, not from the C table; a parameter with several bases is
// evaluated whole (the other types' parts select nothing), so the C table's
// splitting is checked too. Which element types a parameter type turns into
// values (HumanName parts, Identifier type codes, Period bounds...) follows
// docs/decisions/0005-search-index.md; the date arithmetic, the reference
// parsing and the string folding are written here again from the R4 rules
// and the Unicode data of the JavaScript engine.
//
// Exit status: 0 when every disagreement is in the allow-list (--known) and
// every allow-list line still matches something; 1 otherwise; 2 on a usage
// or setup error. See index_dump.c for the normal forms.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const clientDir = path.resolve(here, '../client');
const require = createRequire(path.join(clientDir, 'package.json'));
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');
const { ResourceNode, FP_Type } = require('fhirpath/src/types.js');

// ---- arguments --------------------------------------------------------------

function usage(msg) {
  if (msg) console.error(`index-diff: ${msg}`);
  console.error('usage: index-diff.mjs --index-dump PATH [--examples DIR] [--synthea DIR] [--extra DIR]\n' +
    '                      [--known FILE] [--max-groups N] [--max-examples N] [--only TYPE]');
  process.exit(2);
}

const opt = { examples: null, synthea: null, extra: null, known: null, indexDump: null, maxGroups: 80,
  maxExamples: 3, only: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  switch (a) {
    case '--index-dump': opt.indexDump = v; i++; break;
    case '--examples': opt.examples = v; i++; break;
    case '--synthea': opt.synthea = v; i++; break;
    case '--extra': opt.extra = v; i++; break;
    case '--known': opt.known = v; i++; break;
    case '--max-groups': opt.maxGroups = Number(v); i++; break;
    case '--max-examples': opt.maxExamples = Number(v); i++; break;
    case '--only': opt.only = v; i++; break;	// one resource type, for debugging
    default: usage(`unknown argument ${a}`);
  }
}
if (!opt.indexDump) usage('--index-dump is required');
if (!opt.examples && !opt.synthea && !opt.extra) usage('give --examples, --synthea and/or --extra');

function examplesDir(dir) {
  // an unpacked tarball keeps its package/ directory; npm strips it
  return fs.existsSync(path.join(dir, 'package', 'package.json')) ? path.join(dir, 'package') : dir;
}

// ---- the model: resource types ------------------------------------------------

const type2Parent = r4.type2Parent;
function isA(type, base) {
  for (let t = type; t; t = type2Parent[t]) if (t === base) return true;
  return false;
}
const resourceTypes = new Set(Object.keys(type2Parent)
  .filter(t => isA(t, 'Resource') && t !== 'DomainResource'));
const domainTypes = new Set([...resourceTypes].filter(t => isA(t, 'DomainResource')));
const QUANTITY_TYPES = new Set(['Quantity', 'Age', 'Count', 'Distance', 'Duration',
  'SimpleQuantity', 'MoneyQuantity']);

// ---- the parameters, from the spec --------------------------------------------

// Top-level `|` parts of an expression (as tools/gen_search_params.py splits
// them: outside quotes and brackets).
function splitUnion(expr) {
  const parts = [];
  let depth = 0, quote = false, start = 0;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === "'") quote = false;
    } else if (ch === "'") quote = true;
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === '|' && depth === 0) { parts.push(expr.slice(start, i).trim()); start = i + 1; }
  }
  parts.push(expr.slice(start).trim());
  return parts;
}
function firstIdentifier(part) {
  const m = /^[( ]*([A-Za-z0-9_]*)/.exec(part);
  return m[1];
}

// The erratum that tools/gen_search_params.py applies (and prints in the
// generated table's header): System.DateTime is no FHIR element type, so the
// component as written matches nothing; R5 corrected it the same way.
const ERRATA = [['value.as(DateTime) | value.as(Period)', 'value.as(dateTime) | value.as(Period)']];
function erratum(expr) {
  const e = ERRATA.find(([wrong]) => wrong === expr);
  return e ? e[1] : expr;
}

function loadParams(pkgDir) {
  const bundle = JSON.parse(fs.readFileSync(path.join(pkgDir, 'Bundle-searchParams.json'), 'utf8'));
  const sps = bundle.entry.map(e => e.resource);
  const byUrl = new Map(sps.map(sp => [sp.url, sp]));
  const byType = new Map();	// resource type -> Map(code -> row)
  for (const sp of sps) {
    const bases = [];
    for (const b of sp.base) {
      if (b === 'Resource') bases.push(...resourceTypes);
      else if (b === 'DomainResource') bases.push(...domainTypes);
      else bases.push(b);
    }
    for (const type of bases) {
      if (!byType.has(type)) byType.set(type, new Map());
      const split = sp.expression == null ? null : sp.base.length === 1 ? sp.expression :
        splitUnion(sp.expression).filter(p => firstIdentifier(p) === type).join(' | ');
      const components = (sp.component || []).map(c => {
        const def = byUrl.get(c.definition);
        return { code: def.code, type: def.type, expression: erratum(c.expression) };
      });
      byType.get(type).set(sp.code, { type: sp.type, id: sp.id, expression: sp.expression,
        split, components });
    }
  }
  return byType;
}

// ---- compiled expressions -------------------------------------------------------

// resolve() reads no store (as in the C subset): a reference resolves to a
// resource that knows only its type (and id), taken from the reference's
// text, or from Reference.type when it has none; "#id" to the contained
// resource; urn: and search URLs to nothing.
function resolveTarget(node) {
  const data = fhirpath.util.valData(node);
  let text = null, refType = null;
  if (data && typeof data === 'object') {
    text = typeof data.reference === 'string' ? data.reference : null;
    refType = typeof data.type === 'string' ? data.type : null;
  } else if (typeof data === 'string') {
    text = data;
  }
  if (text == null) return refType && resourceTypes.has(refType) ? { resourceType: refType } : null;
  if (text.startsWith('#')) {
    let res = node;
    while (res && res.parentResNode && !(res.data && res.data.resourceType)) res = res.parentResNode;
    const contained = res?.data?.contained || [];
    return contained.find(r => r && r.id === text.slice(1)) || null;
  }
  const r = splitReference(text);
  return r.type ? { resourceType: r.type, id: r.id } : null;
}

const userInvocationTable = {
  resolve: {
    fn: function (inputs) {
      const out = [];
      for (const node of inputs) {
        const target = resolveTarget(node);
        if (target) out.push(ResourceNode.makeResNode(this, target, null, null, null, null));
      }
      return out;
    },
    arity: { 0: [] },
    internalStructures: true,
  },
};

const compiled = new Map();
function compileExpr(expr) {
  let f = compiled.get(expr);
  if (!f) {
    f = fhirpath.compile(expr, r4, { resolveInternalTypes: false, userInvocationTable });
    compiled.set(expr, f);
  }
  return f;
}

// Two limitations of fhirpath.js that would leave a pair without a value to
// compare are worked around, and the pair is counted apart ("via rewrite"):
// - R4's expressions apply `as` to collections (`(X.useContext.value as
//   Quantity)` over a 0..* useContext). FHIRPath wants a single value there
//   and fhirpath.js says so: the expression is evaluated again with each
//   `(path as Type)` written `path.ofType(Type)`, as R5 rewrote them.
// - Its union (`|`) compares Quantities as System.Quantity and throws on one
//   with a comparator: the union's parts are evaluated one by one and
//   concatenated (the normal forms are a set, so duplicates do not matter).
const AS_SINGLETON = "Expected singleton on left side of 'as'";
const QUANTITY_COMPARATOR = 'Cannot convert a FHIR.Quantity that has a comparator';
function ofTypeRewrite(expr) {
  return expr.replace(/\(([A-Za-z][A-Za-z0-9_.]*) as ([A-Za-z]+)\)/g, '$1.ofType($2)');
}
let rewritten = false;	// set when the current pair needed a rewrite

function evaluateRaw(expr, input, env) {
  try {
    return compileExpr(expr)(input, env);
  } catch (e) {
    const msg = String(e.message);
    if (msg.includes(AS_SINGLETON) && ofTypeRewrite(expr) !== expr) {
      rewritten = true;
      return evaluateRaw(ofTypeRewrite(expr), input, env);
    }
    const parts = splitUnion(expr);
    if (msg.includes(QUANTITY_COMPARATOR) && parts.length > 1) {
      rewritten = true;
      return parts.flatMap(p => evaluateRaw(p, input, env));
    }
    throw e;
  }
}

// The values of a result: [{type: 'HumanName', ns: 'FHIR', data, node}],
// without the metadata-only nodes (an extension on a primitive that has no
// value). Numbers of FHIR primitives come back as FP_Decimal: made plain.
function evaluate(expr, input, resource) {
  const raw = evaluateRaw(expr, input, { resource, rootResource: resource });
  const types = fhirpath.types(raw);
  const out = [];
  raw.forEach((node, i) => {
    let data = fhirpath.util.valData(node);
    if (data === null || data === undefined) return;
    if (data instanceof FP_Type) data = fhirpath.resolveInternalTypes([data])[0];
    const t = types[i];
    out.push({ type: t.slice(t.indexOf('.') + 1), ns: t.slice(0, t.indexOf('.')), data, node });
  });
  return out;
}

// ---- normal forms -------------------------------------------------------------

// Latin letters without a Unicode decomposition, folded by hand (as the C
// table does; the rest of U+00C0..U+024F and U+1E00..U+1EFF comes from NFKD).
const STROKES = {
  'đ': 'd', 'ø': 'o', 'ł': 'l', 'ß': 'ss', 'æ': 'ae', 'œ': 'oe', 'þ': 'th', 'ð': 'd',
  'ħ': 'h', 'ŧ': 't', 'ƀ': 'b', 'ǥ': 'g', 'ƚ': 'l', 'ı': 'i', 'ɨ': 'i', 'ʉ': 'u', 'ɇ': 'e',
  'ɉ': 'j', 'ɍ': 'r', 'ɏ': 'y', 'ȼ': 'c', 'ƒ': 'f', 'ĸ': 'q',
};
function foldLatin(ch) {
  let s = ch.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  s = [...s].map(c => STROKES[c] ?? c).join('');
  return s;
}
// The documented folding: ASCII lower case; Latin letters of U+00C0..U+024F
// and U+1E00..U+1EFF lower case without diacritics; combining marks
// U+0300..U+036F dropped; Greek and Russian capitals lower case; the rest
// as it is.
function fold(s) {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (cp < 0x80) out += ch >= 'A' && ch <= 'Z' ? ch.toLowerCase() : ch;
    else if (cp >= 0x300 && cp < 0x370) continue;
    else if ((cp >= 0xc0 && cp < 0x250) || (cp >= 0x1e00 && cp < 0x1f00)) out += foldLatin(ch);
    else if ((cp >= 0x391 && cp <= 0x3a9 && cp !== 0x3a2) || (cp >= 0x400 && cp <= 0x42f)) {
      out += ch.toLowerCase();
    } else out += ch;
  }
  return out;
}

function num(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return String(x);
}

// FHIR date, dateTime and instant (R4 regular expressions, real calendar) to
// the interval of ms they cover; null when the text is not valid.
const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;
const DATETIME_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2}))?)?)?$/;
function utcMs(y, mo, d, h = 0, mi = 0, s = 0, ms = 0) {
  const t = new Date(0);
  t.setUTCFullYear(y, mo, d);
  t.setUTCHours(h, mi, s, ms);
  return t.getTime();
}
function parseFhirDate(text, kind) {
  if (typeof text !== 'string') return null;
  const m = (kind === 'date' ? DATE_RE : DATETIME_RE).exec(text);
  if (!m) return null;
  const y = Number(m[1]), mo = m[2] && Number(m[2]), d = m[3] && Number(m[3]);
  if (y === 0) return null;
  if (kind === 'instant' && m[4] === undefined) return null;
  if (m[2] === undefined) return [utcMs(y, 0, 1), utcMs(y + 1, 0, 1) - 1];
  if (mo < 1 || mo > 12) return null;
  const daysInMonth = (utcMs(y, mo, 1) - utcMs(y, mo - 1, 1)) / 86400000;
  if (m[3] === undefined) return [utcMs(y, mo - 1, 1), utcMs(y, mo, 1) - 1];
  if (d < 1 || d > daysInMonth) return null;
  if (m[4] === undefined) return [utcMs(y, mo - 1, d), utcMs(y, mo - 1, d + 1) - 1];
  const h = Number(m[4]), mi = Number(m[5]), s = Number(m[6]);
  if (h > 23 || mi > 59 || s > 60) return null;
  const frac = m[7] || '';
  const digits = Math.min(frac.length, 3);
  const ms = digits ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const width = 1000 / 10 ** digits;
  let offset = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[8].slice(1, 3)), om = Number(m[8].slice(4, 6));
    if (om > 59 || oh > 14 || (oh === 14 && om !== 0)) return null;
    offset = (m[8][0] === '-' ? -1 : 1) * (oh * 3600000 + om * 60000);
  }
  const low = utcMs(y, mo - 1, d, h, mi, s, ms) - offset;
  return [low, low + width - 1];
}
const FIRST_MS = utcMs(1, 0, 1), LAST_MS = utcMs(10000, 0, 1) - 1;
function instant(ms, open) {
  if (open) return '..';
  if (ms < FIRST_MS || ms > LAST_MS) return String(ms);
  return new Date(ms).toISOString();
}
function interval([low, high]) {
  return `${instant(low, low === -Infinity)}/${instant(high, high === Infinity)}`;
}

// A reference's text: what it says without looking anything up.
const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
function splitReference(text) {
  const out = { kind: 'other', type: '', id: '', version: '' };
  if (text.startsWith('#')) return { ...out, kind: 'contained', id: text.slice(1) };
  if (text.length > 4 && text.startsWith('urn:')) return { ...out, kind: 'urn' };
  if (text.includes('?')) return out;
  const absolute = /^[^/]*:\/\//.test(text);
  const segs = text.split('/');
  let i = segs.length - 1, version = '';
  if (i >= 2 && segs[i - 1] === '_history') {
    version = segs[i];
    i -= 2;
  }
  if (i >= 1 && resourceTypes.has(segs[i - 1]) && ID_RE.test(segs[i])) {
    return { kind: absolute ? 'absolute' : i - 1 === 0 ? 'relative' : 'other',
      type: segs[i - 1], id: segs[i], version };
  }
  return { ...out, kind: absolute ? 'absolute' : 'other' };
}

// ---- values per parameter type ------------------------------------------------

const KEYS = ['values', 'exact', 'text', 'of_type', 'identifier'];
class Values {
  constructor() {
    this.values = new Set(); this.exact = new Set(); this.text = new Set(); this.of_type = new Set();
    this.identifier = new Set();
  }
  empty() { return KEYS.every(k => !this[k].size); }
}

const isStr = v => typeof v === 'string';
const nonEmpty = v => isStr(v) && v.length > 0;
const arr = v => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

const NAME_PARTS = ['text', 'family', 'given', 'prefix', 'suffix'];
const ADDRESS_PARTS = ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country'];

function addToken(set, system, code) {
  if (!nonEmpty(code)) return;
  set.add(`${isStr(system) ? system : ''}|${code}`);
}

function coding(out, c) {
  if (!c || typeof c !== 'object') return;
  addToken(out.values, c.system, c.code);
  if (nonEmpty(c.display)) out.text.add(fold(c.display));
}

function identifier(out, id, forReference) {
  if (!id || typeof id !== 'object') return;
  if (forReference) { addToken(out.identifier, id.system, id.value); return; }
  addToken(out.values, id.system, id.value);
  const type = id.type;
  if (!type || typeof type !== 'object') return;
  if (nonEmpty(type.text)) out.text.add(fold(type.text));
  if (!nonEmpty(id.value)) return;
  for (const c of arr(type.coding)) {
    if (c && nonEmpty(c.code)) out.of_type.add(`${isStr(c.system) ? c.system : ''}|${c.code}|${id.value}`);
  }
}

function quantityValue(q, withUnits) {
  if (!q || typeof q !== 'object' || typeof q.value !== 'number') return null;
  let low = q.value, high = q.value;
  if (isStr(q.comparator) && q.comparator.startsWith('<')) low = -Infinity;
  if (isStr(q.comparator) && q.comparator.startsWith('>')) high = Infinity;
  return { value: q.value, low, high, system: withUnits ? q.system : null, code: withUnits ? q.code : null,
    unit: withUnits ? q.unit : null };
}

function numeric(v, withUnits) {
  const d = v.data;
  if (['decimal', 'integer', 'positiveInt', 'unsignedInt'].includes(v.type) && v.ns === 'FHIR') {
    return withUnits || typeof d !== 'number' ? null : { value: d, low: d, high: d };
  }
  if (QUANTITY_TYPES.has(v.type)) return quantityValue(d, withUnits);
  if (v.type === 'Range') {
    const high = quantityValue(d.high, withUnits), low = quantityValue(d.low, withUnits);
    if (!high && !low) return null;
    // the units of either bound that has a value, the low one first
    const unit = key => (low && isStr(low[key]) ? low[key] : high && isStr(high[key]) ? high[key] : null);
    return { value: NaN, low: low ? low.value : -Infinity, high: high ? high.value : Infinity,
      system: unit('system'), code: unit('code'), unit: unit('unit') };
  }
  if (v.type === 'Money' && withUnits) {
    if (typeof d.value !== 'number') return null;
    const cur = isStr(d.currency) ? d.currency : null;
    return { value: d.value, low: d.value, high: d.value, system: cur ? 'urn:iso:std:iso:4217' : null,
      code: cur, unit: cur };
  }
  return null;
}

function numericText(q, withUnits) {
  let s = Number.isNaN(q.value) ? `[${num(q.low)},${num(q.high)}]` :
    q.low === q.value && q.high === q.value ? num(q.value) :
    `${num(q.value)} [${num(q.low)},${num(q.high)}]`;
  if (withUnits) s += `|${q.system ?? ''}|${q.code ?? ''}|${q.unit ?? ''}`;
  return s;
}

function referenceText(out, text, canonical, resource) {
  if (!nonEmpty(text)) return;
  if (canonical) {
    const bar = text.indexOf('|');
    const url = bar < 0 ? text : text.slice(0, bar), version = bar < 0 ? '' : text.slice(bar + 1);
    out.values.add(`canonical:${url}${version ? '|' + version : ''}`);
    return;
  }
  const r = splitReference(text);
  let type = r.type;
  if (r.kind === 'contained') {
    const c = arr(resource.contained).filter(x => x && x.id === r.id);
    type = c.length && isStr(c[c.length - 1].resourceType) ? c[c.length - 1].resourceType : '';
    out.values.add(type ? `${text} ~ ${type}/` : text);
    return;
  }
  const typed = r.type ? `${type}/${r.id}${r.version ? '/_history/' + r.version : ''}` : '';
  if (r.kind === 'relative') out.values.add(typed);
  else out.values.add(typed ? `${text} ~ ${typed}` : text);
}

function dateOf(v) {
  const d = v.data;
  if (v.ns === 'FHIR' && (v.type === 'date' || v.type === 'dateTime' || v.type === 'instant')) {
    return parseFhirDate(d, v.type);
  }
  const period = p => {
    if (!p || typeof p !== 'object') return null;
    const s = parseFhirDate(p.start, 'dateTime'), e = parseFhirDate(p.end, 'dateTime');
    if (!s && !e) return null;
    return [s ? s[0] : -Infinity, e ? e[1] : Infinity];
  };
  if (v.type === 'Period') return period(d);
  if (v.type === 'Timing') {
    let low = Infinity, high = -Infinity, any = false;
    for (const ev of arr(d.event)) {
      const r = parseFhirDate(ev, 'dateTime');
      if (r) { low = Math.min(low, r[0]); high = Math.max(high, r[1]); any = true; }
    }
    const b = period(d.repeat && d.repeat.boundsPeriod);
    if (b) { low = Math.min(low, b[0]); high = Math.max(high, b[1]); any = true; }
    return any ? [low, high] : null;
  }
  return null;
}

// The index values of one value v of a parameter of type `type`, into out.
function valuesOf(out, type, v, resource) {
  const d = v.data;
  switch (type) {
    case 'string': {
      const text = s => { out.values.add(fold(s)); out.exact.add(s); };
      if (isStr(d)) { if (d) text(d); return; }
      if (v.type === 'HumanName' || v.type === 'Address') {
        for (const part of v.type === 'HumanName' ? NAME_PARTS : ADDRESS_PARTS) {
          for (const s of arr(d[part])) if (nonEmpty(s)) text(s);
        }
      }
      return;
    }
    case 'token':
      if (typeof d === 'boolean') { out.values.add(`|${d}`); return; }
      if (isStr(d)) { addToken(out.values, null, d); return; }
      if (v.type === 'Coding') coding(out, d);
      else if (v.type === 'CodeableConcept') {
        for (const c of arr(d.coding)) coding(out, c);
        if (nonEmpty(d.text)) out.text.add(fold(d.text));
      } else if (v.type === 'Identifier') identifier(out, d, false);
      else if (v.type === 'ContactPoint') addToken(out.values, null, d.value);
      return;
    case 'date': {
      const r = dateOf(v);
      if (r) out.values.add(interval(r));
      return;
    }
    case 'number':
    case 'quantity': {
      const q = numeric(v, type === 'quantity');
      if (q) out.values.add(numericText(q, type === 'quantity'));
      return;
    }
    case 'reference':
      if (v.ns === 'FHIR' && (v.type === 'canonical' || v.type === 'uri' || v.type === 'url')) {
        referenceText(out, d, v.type === 'canonical', resource);
      } else if (v.type === 'Reference') {
        if (isStr(d.reference)) referenceText(out, d.reference, false, resource);
        else if (isStr(d.type) && resourceTypes.has(d.type) && d.identifier) out.values.add(`${d.type}/`);
        if (d.identifier) identifier(out, d.identifier, true);
      } else if (d && typeof d === 'object' && resourceTypes.has(v.type) && d.resourceType === v.type) {
        if (isStr(d.id)) out.values.add(`${v.type}/${d.id}`);
      }
      return;
    case 'uri':
      if (nonEmpty(d)) out.values.add(d);
      return;
    case 'special':
      if (v.node?.path === 'Location.position' && d.latitude !== undefined && d.longitude !== undefined) {
        out.values.add(`${num(Number(d.latitude))},${num(Number(d.longitude))}`);
      }
      return;
    default:
  }
}

// The documented bounds of a composite (0005): per value of the composite's
// expression, the first 16 distinct values of each component (in the order
// of evaluation), and the first 256 combinations, the first component
// varying fastest.
const COMPOSITE_MAX_VALUES = 16;
const COMPOSITE_MAX_COMBINATIONS = 256;

function combinations(parts) {
  const out = [], pick = parts.map(() => 0);
  while (out.length < COMPOSITE_MAX_COMBINATIONS) {
    out.push(parts.map((p, k) => p[pick[k]]).join(' $ '));
    let k = 0;
    for (; k < parts.length; k++) {
      if (++pick[k] < parts[k].length) break;
      pick[k] = 0;
    }
    if (k === parts.length) break;
  }
  return out;
}

function paramValues(row, resource) {
  const out = new Values();
  if (row.type === 'composite') {
    for (const v of evaluate(row.expression, resource, resource)) {
      const parts = row.components.map(c => {
        const part = new Values();
        for (const cv of evaluate(c.expression, v.node, resource)) valuesOf(part, c.type, cv, resource);
        return [...part.values].slice(0, COMPOSITE_MAX_VALUES);
      });
      if (parts.every(p => p.length > 0)) for (const c of combinations(parts)) out.values.add(c);
    }
    return out;
  }
  for (const v of evaluate(row.expression, resource, resource)) valuesOf(out, row.type, v, resource);
  return out;
}

// ---- the C side -----------------------------------------------------------------

function runDump(args, cwd, outFile) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(outFile, 'w');
    const p = spawn(path.resolve(opt.indexDump), args, { cwd, stdio: ['ignore', out, 'inherit'] });
    p.on('error', reject);
    p.on('close', code => {
      fs.closeSync(out);
      if (code === 0) resolve();
      else reject(new Error(`index_dump exited with ${code}`));
    });
  });
}

async function readDump(file) {
  const bySrc = new Map();
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line) continue;
    const o = JSON.parse(line);
    if (o.param === undefined) {
      bySrc.set(o.src, { res: o.res, error: o.error ?? null, params: new Map() });
    } else {
      bySrc.get(o.src).params.set(o.param, o);
    }
  }
  return bySrc;
}

// ---- the allow-list ---------------------------------------------------------------

// Lines: resource-type TAB parameter TAB source TAB reason. The source is a
// glob (* and ?) on the resource's src without the data set's directory
// (Observation-example.json, Andrea_Dach_…json#12, *).
function loadKnown(file) {
  if (!file) return [];
  const out = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const f = line.split('\t');
    if (f.length < 4 || !f[3].trim()) {
      console.error(`${file}:${i + 1}: want resource-type, parameter, source, reason (tab-separated)`);
      process.exit(2);
    }
    const glob = new RegExp('^' + f[2].replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')
      .replace(/\?/g, '.') + '$');
    out.push({ line: i + 1, type: f[0], param: f[1], src: f[2], glob, reason: f[3], used: 0 });
  });
  return out;
}

// ---- comparison ---------------------------------------------------------------------

const stats = new Map();	// parameter type -> counts
const groups = new Map();	// "Type.param" -> { type, count, known, examples }
const tableIssues = [];
const bySet = new Map();	// data set -> { nonEmpty, agree, disagree }
const known = loadKnown(opt.known);
let resourcesSeen = 0, evaluations = 0, jsErrors = 0;

function stat(ptype) {
  if (!stats.has(ptype)) stats.set(ptype, { pairs: 0, nonEmpty: 0, agree: 0, ofType: 0, known: 0, unknown: 0, values: 0 });
  return stats.get(ptype);
}

function record(set, resType, param, ptype, src, res, diff) {
  const k = known.find(e => (e.type === resType || e.type === '*') && (e.param === param || e.param === '*') &&
    e.glob.test(src));
  const s = stat(ptype);
  if (k) { k.used++; s.known++; } else s.unknown++;
  const key = `${resType}.${param}`;
  if (!groups.has(key)) groups.set(key, { ptype, count: 0, known: k ? k.reason : null, examples: [] });
  const g = groups.get(key);
  g.count++;
  if (g.examples.length < opt.maxExamples) g.examples.push({ set, src, res, diff });
}

function compareResource(set, src, resource, cEntry, params) {
  const type = resource.resourceType;
  resourcesSeen++;
  if (!cEntry) {
    record(set, type, '(resource)', '(resource)', src, null, { note: 'index_dump printed nothing for it' });
    return;
  }
  if (cEntry.error) {
    record(set, type, '(resource)', '(resource)', src, cEntry.res, { note: `C: ${cEntry.error}` });
    return;
  }
  for (const [code, row] of params) {
    if (row.expression == null) continue;
    evaluations++;
    const s = stat(row.type);
    s.pairs++;
    let js;
    rewritten = false;
    try {
      js = paramValues(row, resource);
    } catch (e) {
      jsErrors++;
      record(set, type, code, row.type, src, cEntry.res, { note: `fhirpath: ${e.message.split('\n')[0]}` });
      continue;
    }
    const c = cEntry.params.get(code) || {};
    let same = true, any = !js.empty();
    const diff = {};
    for (const key of KEYS) {
      const cv = new Set(c[key] || []);
      if (cv.size) any = true;
      const onlyC = [...cv].filter(x => !js[key].has(x));
      const onlyJs = [...js[key]].filter(x => !cv.has(x));
      if (onlyC.length || onlyJs.length) {
        same = false;
        diff[key] = { onlyC, onlyJs };
      }
    }
    if (!any) continue;
    s.nonEmpty++;
    if (!bySet.has(set)) bySet.set(set, { nonEmpty: 0, agree: 0, disagree: 0 });
    const b = bySet.get(set);
    b.nonEmpty++;
    if (same) b.agree++;
    else b.disagree++;
    s.values += (c.values || []).length;
    if (rewritten) s.ofType++;
    if (same) s.agree++;
    else record(set, type, code, row.type, src, cEntry.res, diff);
  }
}

// The C table (index_dump --params) against the spec, row by row.
async function checkTable(byType) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'index-diff-'));
  const file = path.join(tmp, 'params.jsonl');
  await runDump(['--params'], process.cwd(), file);
  const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
  fs.rmSync(tmp, { recursive: true, force: true });
  const seen = new Set();
  let agree = 0;
  for (const r of rows) {
    const key = `${r.resource}.${r.param}`;
    seen.add(key);
    const spec = byType.get(r.resource)?.get(r.param);
    if (!spec) { tableIssues.push(`${key}: in the C table, not in the spec`); continue; }
    const problems = [];
    if (spec.type !== r.type) problems.push(`type ${r.type} (spec: ${spec.type})`);
    if (spec.id !== r.id) problems.push(`id ${r.id} (spec: ${spec.id})`);
    if (spec.split !== r.expression) problems.push(`expression ${JSON.stringify(r.expression)} (spec, split: ${JSON.stringify(spec.split)})`);
    if (r.expression != null && !r.compiled) problems.push('the expression does not compile');
    const cc = (r.components || []).map(c => `${c.param}=${c.expression}`).join(', ');
    const sc = spec.components.map(c => `${c.code}=${c.expression}`).join(', ');
    if (cc !== sc) problems.push(`components ${cc} (spec: ${sc})`);
    if (problems.length) tableIssues.push(`${key}: ${problems.join('; ')}`);
    else agree++;
  }
  for (const [type, m] of byType) {
    for (const code of m.keys()) if (!seen.has(`${type}.${code}`)) tableIssues.push(`${type}.${code}: in the spec, not in the C table`);
  }
  return { rows: rows.length, agree };
}

// One data set: the files, run through index_dump in one go, then compared
// resource by resource.
async function runSet(name, dir, files, bundles, byType) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'index-diff-'));
  const dumpFile = path.join(tmp, `${name}.jsonl`);
  const t0 = Date.now();
  await runDump([`--bundles=${bundles}`, ...files], dir, dumpFile);
  const t1 = Date.now();
  const bySrc = await readDump(dumpFile);
  fs.rmSync(tmp, { recursive: true, force: true });
  let n = 0;
  for (const f of files) {
    const top = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const units = [];
    const isBundle = top.resourceType === 'Bundle';
    if (!isBundle || bundles !== 'entries') units.push([f, top]);
    if (isBundle && bundles !== 'self') {
      (top.entry || []).forEach((e, i) => {
        if (e && e.resource && typeof e.resource === 'object' && !Array.isArray(e.resource)) {
          units.push([`${f}#${i}`, e.resource]);
        }
      });
    }
    for (const [src, res] of units) {
      const params = byType.get(res.resourceType);
      if (!params || (opt.only && res.resourceType !== opt.only)) continue;
      compareResource(name, src, res, bySrc.get(src), params);
      n++;
    }
  }
  console.error(`${name}: ${n} resources (index_dump ${((t1 - t0) / 1000).toFixed(1)} s, ` +
    `fhirpath ${((Date.now() - t1) / 1000).toFixed(1)} s)`);
  return n;
}

// ---- main -----------------------------------------------------------------------------

const pkg = opt.examples ? examplesDir(opt.examples) :
  examplesDir(path.join(clientDir, 'node_modules', 'hl7.fhir.r4.examples'));
if (!fs.existsSync(path.join(pkg, 'Bundle-searchParams.json'))) {
  usage(`${pkg}: no Bundle-searchParams.json (run npm ci in tests/client)`);
}
const byType = loadParams(pkg);
// A setup failure (index_dump failed, a file is not JSON) is exit status 2.
async function must(promise) {
  try {
    return await promise;
  } catch (e) {
    console.error(`index-diff: ${e.message}`);
    process.exit(2);
  }
}
const table = await must(checkTable(byType));
const counts = {};
if (opt.examples) {
  const files = fs.readdirSync(pkg).filter(f => f.endsWith('.json') && f !== 'package.json' &&
    f !== '.index.json').sort();
  counts.examples = await must(runSet('examples', pkg, files, 'both', byType));
}
if (opt.synthea) {
  const files = fs.readdirSync(opt.synthea).filter(f => f.endsWith('.json')).sort();
  counts.synthea = await must(runSet('synthea', opt.synthea, files, 'entries', byType));
}
if (opt.extra) {
  const files = fs.readdirSync(opt.extra).filter(f => f.endsWith('.json')).sort();
  counts.extra = await must(runSet('extra', opt.extra, files, 'both', byType));
}

// ---- the report ---------------------------------------------------------------------

const out = [];
out.push(`fhirpath ${fhirpath.version}, R4 model; ${resourcesSeen} resources ` +
  `(${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}), ${evaluations} (resource, parameter) evaluations`);
for (const [set, b] of bySet) {
  out.push(`${set}: ${counts[set]} resources, ${b.nonEmpty} non-empty pairs, ${b.agree} agree, ${b.disagree} disagree`);
}
out.push(`parameter table: ${table.agree} of ${table.rows} rows agree with the spec` +
  (tableIssues.length ? `; ${tableIssues.length} differ` : ''));
for (const t of tableIssues.slice(0, 50)) out.push(`  ${t}`);
out.push('');
out.push('| type | pairs evaluated | non-empty | agree | of which via rewrite | disagree (allow-listed) | disagree (new) | values (C) |');
out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
const order = ['string', 'token', 'date', 'number', 'quantity', 'reference', 'uri', 'special', 'composite', '(resource)'];
const total = { pairs: 0, nonEmpty: 0, agree: 0, ofType: 0, known: 0, unknown: 0, values: 0 };
for (const t of [...order, ...[...stats.keys()].filter(k => !order.includes(k))]) {
  const s = stats.get(t);
  if (!s) continue;
  out.push(`| ${t} | ${s.pairs} | ${s.nonEmpty} | ${s.agree} | ${s.ofType} | ${s.known} | ${s.unknown} | ${s.values} |`);
  for (const k of Object.keys(total)) total[k] += s[k];
}
out.push(`| **all** | ${total.pairs} | ${total.nonEmpty} | ${total.agree} | ${total.ofType} | ${total.known} | ${total.unknown} | ${total.values} |`);
out.push('');
const sorted = [...groups.entries()].sort((a, b) => (a[1].known ? 1 : 0) - (b[1].known ? 1 : 0) ||
  b[1].count - a[1].count || a[0].localeCompare(b[0]));
if (sorted.length) out.push(`disagreements by parameter (${sorted.length} parameters):`);
for (const [key, g] of sorted.slice(0, opt.maxGroups)) {
  out.push(`- ${key} (${g.ptype}): ${g.count}${g.known ? ` — allow-listed: ${g.known}` : ' — NEW'}`);
  for (const ex of g.examples) {
    out.push(`    ${ex.set} ${ex.src}${ex.res ? ` (${ex.res})` : ''}`);
    for (const [k, d] of Object.entries(ex.diff)) {
      if (k === 'note') { out.push(`      ${d}`); continue; }
      const cut = a => JSON.stringify(a.slice(0, 6)).slice(0, 400) + (a.length > 6 ? ` …(${a.length})` : '');
      if (d.onlyC.length) out.push(`      ${k} only in C:        ${cut(d.onlyC)}`);
      if (d.onlyJs.length) out.push(`      ${k} only in fhirpath: ${cut(d.onlyJs)}`);
    }
  }
}
if (sorted.length > opt.maxGroups) out.push(`… and ${sorted.length - opt.maxGroups} more parameters`);
const stale = known.filter(k => k.used === 0);
for (const k of stale) out.push(`allow-list line ${k.line} (${k.type} ${k.param} ${k.src}) matched nothing: remove it`);
const failed = total.unknown > 0 || stale.length > 0 || tableIssues.length > 0;
out.push(failed ? `FAIL: ${total.unknown} new disagreements, ${stale.length} stale allow-list lines, ` +
  `${tableIssues.length} table differences` :
  `OK: ${total.agree} of ${total.nonEmpty} non-empty pairs agree; ${total.known} allow-listed`);
console.log(out.join('\n'));
process.exit(failed ? 1 : 0);
