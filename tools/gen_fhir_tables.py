#!/usr/bin/env python3
"""Generates src/fhir/fhir_tables.c from the official FHIR R4 definitions.

Usage: tools/gen_fhir_tables.py PACKAGE_DIR [OUTPUT]

PACKAGE_DIR is the unpacked npm package hl7.fhir.r4.examples@4.0.1 (the
directory holding Bundle-resources.json). OUTPUT defaults to
src/fhir/fhir_tables.c next to this script. Standard library only; the output
is deterministic (same input, same bytes).

What it reads:
  - Bundle-types.json, Bundle-resources.json: the StructureDefinitions with
    their snapshots. Every type (primitive, complex datatype, resource and
    each inline backbone element) becomes one row of fhir_types[]; its child
    elements become rows of fhir_elems[], sorted by JSON property name, with
    choice elements expanded (value[x] -> valueString, valueQuantity, ...).
  - ValueSet-*.json, CodeSystem-*.json: the value sets of required bindings
    on `code` elements, expanded when they are small and closed (enumerated
    or whole code systems present in full, no filters), see expand_value_set.

The layout of the tables is described in src/fhir/fhir_tables.h.
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fhirgen import c_str, die, load_json  # noqa: E402

MAX_BOUND_CODES = 200  # larger value sets are not checked (see 0002-validation.md)
MAX_REQUIRED = 64      # required slots per type: a uint64_t bitmap at run time
MAX_CHOICES = 64       # choice groups per type: same
HINT_MAX = 120         # longest "a | b | c" list quoted in diagnostics

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SIMPLE_QUANTITY = "http://hl7.org/fhir/StructureDefinition/SimpleQuantity"

PRIMITIVES = {
    "base64Binary": "FHIR_PRIM_BASE64",
    "boolean": "FHIR_PRIM_BOOLEAN",
    "canonical": "FHIR_PRIM_CANONICAL",
    "code": "FHIR_PRIM_CODE",
    "date": "FHIR_PRIM_DATE",
    "dateTime": "FHIR_PRIM_DATETIME",
    "decimal": "FHIR_PRIM_DECIMAL",
    "id": "FHIR_PRIM_ID",
    "instant": "FHIR_PRIM_INSTANT",
    "integer": "FHIR_PRIM_INTEGER",
    "markdown": "FHIR_PRIM_MARKDOWN",
    "oid": "FHIR_PRIM_OID",
    "positiveInt": "FHIR_PRIM_POSITIVE_INT",
    "string": "FHIR_PRIM_STRING",
    "time": "FHIR_PRIM_TIME",
    "unsignedInt": "FHIR_PRIM_UNSIGNED_INT",
    "uri": "FHIR_PRIM_URI",
    "url": "FHIR_PRIM_URL",
    "uuid": "FHIR_PRIM_UUID",
    "xhtml": "FHIR_PRIM_XHTML",
}


class Type:
    def __init__(self, name, kind, prim="FHIR_PRIM_NONE"):
        self.name = name
        self.kind = kind
        self.prim = prim
        self.elems = []       # dicts, see build_elements
        self.required = []    # names of required elements / choice groups
        self.n_choice = 0
        self.index = None


class Generator:
    def __init__(self, pkg):
        self.pkg = pkg
        self.sds = {}         # StructureDefinition id -> resource
        self.types = {}       # type name -> Type
        self.order = []       # Types in output order
        self.value_sets = {}  # url -> index (or None when not checked)
        self.vs_rows = []     # (url, hint, [codes])
        self.vs_by_url = None
        self.cs_by_url = None
        self.skipped_vs = {}

    # ---- input ----------------------------------------------------------

    def load(self):
        for fname in ("Bundle-types.json", "Bundle-resources.json"):
            bundle = load_json(os.path.join(self.pkg, fname))
            for entry in bundle["entry"]:
                res = entry["resource"]
                if res["resourceType"] == "StructureDefinition":
                    self.sds[res["id"]] = res

    def terminology(self):
        if self.vs_by_url is None:
            self.vs_by_url, self.cs_by_url = {}, {}
            for path in sorted(glob.glob(os.path.join(self.pkg, "ValueSet-*.json"))):
                vs = load_json(path)
                self.vs_by_url.setdefault(vs["url"], vs)
            for path in sorted(glob.glob(os.path.join(self.pkg, "CodeSystem-*.json"))):
                cs = load_json(path)
                self.cs_by_url.setdefault(cs["url"], cs)
        return self.vs_by_url, self.cs_by_url

    # ---- types ----------------------------------------------------------

    def add_type(self, t):
        if t.name in self.types:
            die("duplicate type " + t.name)
        self.types[t.name] = t
        self.order.append(t)
        return t

    def build(self):
        sds = self.sds
        for name in sorted(PRIMITIVES):
            sd = sds[name]
            if sd["kind"] != "primitive-type":
                die(name + " is not a primitive type")
            self.add_type(Type(name, "FHIR_KIND_PRIMITIVE", PRIMITIVES[name]))
        complex_sds = sorted(
            (sd for sd in sds.values() if sd["kind"] == "complex-type"
             and (not sd.get("abstract") or sd["id"] == "Element")),
            key=lambda sd: sd["id"])
        resource_sds = sorted(
            (sd for sd in sds.values() if sd["kind"] == "resource" and not sd.get("abstract")
             and sd.get("derivation") == "specialization"),
            key=lambda sd: sd["id"])
        if len(resource_sds) != 146:
            die("expected 146 concrete resources, found %d" % len(resource_sds))
        for sd in complex_sds:
            self.add_type(Type(sd["id"], "FHIR_KIND_COMPLEX"))
        self.add_type(Type("Resource", "FHIR_KIND_ANY_RESOURCE"))
        for sd in resource_sds:
            self.add_type(Type(sd["id"], "FHIR_KIND_RESOURCE"))
        # Inline (backbone) types are discovered while walking the snapshots,
        # and a contentReference may point at one declared later: first
        # create them all, then fill in the elements.
        for sd in complex_sds + resource_sds:
            self.declare_inline(sd)
        for sd in complex_sds + resource_sds:
            self.fill(sd)
        self.resource_sds = resource_sds

    @staticmethod
    def children_of(elements):
        """Maps each path to the list of its direct child elements."""
        kids = {}
        for el in elements:
            path = el["path"]
            if "." in path:
                kids.setdefault(path.rsplit(".", 1)[0], []).append(el)
        return kids

    @staticmethod
    def inline_name(sd, path):
        # Named after the StructureDefinition, not the path, because the
        # paths of a constraint (SimpleQuantity) start with its base type.
        return sd["id"] + "." + path.split(".", 1)[1]

    def declare_inline(self, sd):
        elements = sd["snapshot"]["element"]
        kids = self.children_of(elements)
        for el in elements[1:]:
            if el["path"] in kids:
                self.add_type(Type(self.inline_name(sd, el["path"]), "FHIR_KIND_BACKBONE"))

    def element_type_name(self, sd, el, code, type_entry, kids, root_is_resource):
        path = el["path"]
        if path in kids:
            return self.inline_name(sd, path)
        if code.startswith("http://hl7.org/fhirpath/System."):
            fhir_type = None
            for ext in type_entry.get("extension", []):
                if ext["url"] == FHIR_TYPE_EXT:
                    fhir_type = ext["valueUrl"]
            if fhir_type is None:
                die("no FHIR type for %s" % path)
            # R4 declares Resource.id as System.String/string, but the
            # specification (and every server) treats it as the `id` type.
            if root_is_resource and path.count(".") == 1 and path.endswith(".id"):
                return "id"
            return fhir_type
        if code == "Quantity" and SIMPLE_QUANTITY in type_entry.get("profile", []):
            return "SimpleQuantity"
        if code in ("Element", "BackboneElement"):
            die("%s: %s without children" % (path, code))
        return code

    def fill(self, sd):
        elements = sd["snapshot"]["element"]
        kids = self.children_of(elements)
        root = elements[0]["path"]
        root_is_resource = sd["kind"] == "resource"
        containers = [(self.types[sd["id"]], root)]
        for el in elements[1:]:
            if el["path"] in kids:
                containers.append((self.types[self.inline_name(sd, el["path"])], el["path"]))
        for t, path in containers:
            self.build_elements(sd, t, kids.get(path, []), kids, root_is_resource)

    def build_elements(self, sd, t, children, kids, root_is_resource):
        rows = []
        choice = 0
        for el in children:
            name = el["path"].rsplit(".", 1)[1]
            emin = int(el["min"])
            if el["max"] == "*":
                emax = 0xFFFF
            else:
                emax = int(el["max"])
            base_max = el["base"]["max"]
            is_array = 1 if base_max not in ("0", "1") else 0
            if "contentReference" in el:
                ref = el["contentReference"]
                if not ref.startswith("#"):
                    die("external contentReference " + ref)
                tname = self.inline_name(sd, ref[1:])
                if tname not in self.types:
                    die("unresolved contentReference " + ref)
                rows.append(self.elem(name, tname, emin, emax, is_array, el, None))
                continue
            types = el.get("type", [])
            if name.endswith("[x]"):
                if len(types) < 2 or is_array:
                    die("unexpected choice shape at " + el["path"])
                base = name[:-3]
                group = choice
                choice += 1
                if emin > 0:
                    t.required.append(base + "[x]")
                for te in types:
                    tname = self.element_type_name(sd, el, te["code"], te, kids, root_is_resource)
                    suffix = te["code"][0].upper() + te["code"][1:]
                    rows.append(self.elem(base + suffix, tname, emin, emax, is_array, el,
                                          (group, len(t.required) - 1 if emin > 0 else None)))
                continue
            if len(types) != 1:
                die("element %s has %d types" % (el["path"], len(types)))
            tname = self.element_type_name(sd, el, types[0]["code"], types[0], kids,
                                           root_is_resource)
            rows.append(self.elem(name, tname, emin, emax, is_array, el, None))
        for r in rows:
            if r["choice"] is None and r["min"] > 0:
                t.required.append(r["name"])
                r["slot"] = len(t.required) - 1
        rows.sort(key=lambda r: r["name"].encode("utf-8"))
        for a, b in zip(rows, rows[1:]):
            if a["name"] == b["name"]:
                die("duplicate element %s in %s" % (a["name"], t.name))
        if len(t.required) > MAX_REQUIRED:
            die("too many required elements in " + t.name)
        if choice > MAX_CHOICES:
            die("too many choice groups in " + t.name)
        t.elems = rows
        t.n_choice = choice

    def elem(self, name, tname, emin, emax, is_array, el, choice):
        if tname not in self.types:
            die("unknown type %s at %s" % (tname, el["path"]))
        vs = None
        binding = el.get("binding")
        if (binding and binding.get("strength") == "required" and tname == "code"
                and binding.get("valueSet") and choice is None):
            vs = self.value_set_index(binding["valueSet"].split("|")[0])
        # Element.id and Extension.url are XML attributes: plain JSON
        # properties that cannot carry a `_name` extension object.
        flags = []
        if "xmlAttr" in el.get("representation", []):
            flags.append("FHIR_ELEM_NO_EXT")
        # isSummary: kept by _summary=true.
        if el.get("isSummary"):
            flags.append("FHIR_ELEM_SUMMARY")
        row = {"name": name, "type": tname, "min": emin, "max": emax, "is_array": is_array,
               "vs": vs, "choice": None, "slot": None, "flags": " | ".join(flags) or "0"}
        if choice is not None:
            row["choice"], row["slot"] = choice
        return row

    # ---- value sets -----------------------------------------------------

    def cs_codes(self, url):
        _, cs_by_url = self.terminology()
        cs = cs_by_url.get(url)
        if cs is None or cs.get("content") != "complete":
            return None
        codes = []

        def walk(concepts):
            for c in concepts:
                codes.append(c["code"])
                walk(c.get("concept", []))
        walk(cs.get("concept", []))
        return codes

    def expand_value_set(self, url, seen=()):
        """The set of codes of a closed value set, or None when it is open,
        filtered, or depends on something that is not in the package."""
        vs_by_url, _ = self.terminology()
        vs = vs_by_url.get(url)
        if vs is None or url in seen:
            return None
        compose = vs.get("compose")
        if not compose:
            return None
        codes = set()
        for inc in compose.get("include", []):
            if "filter" in inc:
                return None
            part = None
            if "concept" in inc:
                part = {c["code"] for c in inc["concept"]}
            elif "system" in inc:
                cs = self.cs_codes(inc["system"])
                if cs is None:
                    return None
                part = set(cs)
            for ref in inc.get("valueSet", []):
                sub = self.expand_value_set(ref.split("|")[0], seen + (url,))
                if sub is None:
                    return None
                part = sub if part is None else (part & sub)
            if part is None:
                return None
            codes |= part
        for exc in compose.get("exclude", []):
            if "concept" not in exc or "filter" in exc or "valueSet" in exc:
                return None
            codes -= {c["code"] for c in exc["concept"]}
        return codes

    def value_set_index(self, url):
        if url in self.value_sets:
            return self.value_sets[url]
        codes = self.expand_value_set(url)
        idx = None
        if codes and len(codes) <= MAX_BOUND_CODES:
            ordered = sorted(codes, key=lambda c: c.encode("utf-8"))
            hint = " | ".join(ordered)
            if len(hint) > HINT_MAX:
                hint = ""
            idx = len(self.vs_rows) + 1     # 0 means "no binding checked"
            self.vs_rows.append((url, hint, ordered))
        else:
            self.skipped_vs[url] = "open or too large" if codes is None else \
                "%d codes" % len(codes)
        self.value_sets[url] = idx
        return idx

    # ---- output ---------------------------------------------------------

    def write(self, out):
        for i, t in enumerate(self.order):
            t.index = i
        lines = []
        w = lines.append
        w("/* generated by tools/gen_fhir_tables.py — do not edit */")
        w("/*")
        w(" * Source: npm hl7.fhir.r4.examples@4.0.1 (Bundle-types.json,")
        w(" * Bundle-resources.json, ValueSet-*.json, CodeSystem-*.json). Layout and")
        w(" * meaning of every field: fhir_tables.h.")
        w(" */")
        w('#include "fhir_tables.h"')
        w("")
        n_elems = sum(len(t.elems) for t in self.order)
        n_req = sum(len(t.required) for t in self.order)
        if n_elems >= 0xFFFF or len(self.order) >= 0xFFFF:
            die("tables too large for uint16_t indexes")

        w("const struct fhir_elem fhir_elems[%d] = {" % n_elems)
        first = 0
        firsts = {}
        for t in self.order:
            firsts[t.name] = first
            if t.elems:
                w("\t/* %s */" % t.name)
            for r in t.elems:
                w("\t{ %s, %d, %d, %d, %d, %d, %d, %d, %s },  /* %s */" % (
                    c_str(r["name"]), self.types[r["type"]].index, r["vs"] or 0, r["max"],
                    r["min"], r["is_array"],
                    0xFF if r["slot"] is None else r["slot"],
                    0xFF if r["choice"] is None else r["choice"], r["flags"], r["type"]))
            first += len(t.elems)
        w("};")
        w("")
        w("const char *const fhir_required_names[%d] = {" % max(n_req, 1))
        rfirst = 0
        rfirsts = {}
        for t in self.order:
            rfirsts[t.name] = rfirst
            if t.required:
                w("\t/* %s */ %s," % (t.name, ", ".join(c_str(n) for n in t.required)))
            rfirst += len(t.required)
        w("};")
        w("")
        w("const struct fhir_type fhir_types[] = {")
        for t in self.order:
            w("\t{ %s, %s, %s, %d, %d, %d, %d, %d },  /* %d */" % (
                c_str(t.name), t.kind, t.prim, firsts[t.name], len(t.elems),
                rfirsts[t.name], len(t.required), t.n_choice, t.index))
        w("};")
        w("")
        w("const struct fhir_resource_type fhir_resource_types[] = {")
        names = sorted((sd["id"] for sd in self.resource_sds), key=lambda s: s.encode("utf-8"))
        for name in names:
            w("\t{ %s, %d }," % (c_str(name), self.types[name].index))
        w("};")
        w("")
        n_codes = sum(len(r[2]) for r in self.vs_rows)
        w("const char *const fhir_codes[%d] = {" % n_codes)
        for url, _, codes in self.vs_rows:
            w("\t/* %s */" % url)
            line = "\t"
            for c in codes:
                item = c_str(c) + ", "
                if len(line) + len(item) > 96:
                    w(line.rstrip())
                    line = "\t"
                line += item
            if line.strip():
                w(line.rstrip())
        w("};")
        w("")
        w("const struct fhir_value_set fhir_value_sets[] = {")
        w('\t{ "", "", 0, 0 },  /* 0: no binding checked */')
        cfirst = 0
        for i, (url, hint, codes) in enumerate(self.vs_rows):
            w("\t{ %s, %s, %d, %d },  /* %d */" % (c_str(url), c_str(hint), cfirst,
                                                 len(codes), i + 1))
            cfirst += len(codes)
        w("};")
        w("")
        if self.skipped_vs:
            w("/* Required bindings on code elements not checked (open, filtered, or")
            w(" * more than %d codes):" % MAX_BOUND_CODES)
            for url in sorted(self.skipped_vs):
                w(" *   %s (%s)" % (url, self.skipped_vs[url]))
            w(" */")
            w("")
        w("const uint16_t fhir_type_element = %d;" % self.types["Element"].index)
        w("")

        # The header fixes the counts; the arrays above are defined without a
        # size so that the compiler rejects any mismatch with its extern
        # declarations. Say here which number to change.
        header = os.path.join(os.path.dirname(out), "fhir_tables.h")
        if os.path.exists(header):
            with open(header, encoding="utf-8") as f:
                htext = f.read()
            for macro, value in (("FHIR_TYPE_COUNT", len(self.order)),
                                 ("FHIR_RESOURCE_TYPE_COUNT", len(names)),
                                 ("FHIR_VALUE_SET_COUNT", len(self.vs_rows) + 1)):
                if "#define %s %d\n" % (macro, value) not in htext:
                    sys.stderr.write("gen_fhir_tables: update fhir_tables.h: #define %s %d\n"
                                     % (macro, value))
        text = "\n".join(lines)
        with open(out, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        return len(self.order), n_elems, len(names), len(self.vs_rows), n_codes


def main(argv):
    if len(argv) < 2 or len(argv) > 3:
        die("usage: gen_fhir_tables.py PACKAGE_DIR [OUTPUT]")
    pkg = argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    out = argv[2] if len(argv) == 3 else os.path.join(here, "..", "src", "fhir", "fhir_tables.c")
    g = Generator(pkg)
    g.load()
    g.build()
    counts = g.write(os.path.normpath(out))
    sys.stderr.write("gen_fhir_tables: %d types, %d elements, %d resource types, "
                     "%d value sets, %d codes\n" % counts)


if __name__ == "__main__":
    main(sys.argv)
