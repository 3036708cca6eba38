/*
 * gen.c — `lienthong gen`: writes a synthetic Ho Chi Minh City (src/gen/)
 * to a directory, as NDJSON per resource type or as transaction Bundles
 * that `lienthong import` loads, or as HL7 v2 messages (adt.hl7, oru.hl7)
 * that `lienthong hl7 send` delivers over MLLP. Streaming: one patient at a
 * time is in memory, whatever --patients says. Progress on a terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cmd.h"
#include "../base/buf.h"
#include "../base/time.h"
#include "../gen/gen.h"
#include "../gen/gen_defects.h"
#include "../gen/gen_hl7v2.h"

#define GEN_OUT_BUFFER (1u << 20)	/* stdio buffer of each output file */
#define GEN_MAX_BUNDLE_BYTES (16u << 20)	/* one patient's Bundle */
#define GEN_MAX_HL7V2_BYTES (16u << 20)	/* one patient's messages of one kind */

enum { FORMAT_NDJSON, FORMAT_BUNDLE, FORMAT_HL7V2 };

struct gen_out {
	int format;
	const char *dir;
	FILE *file[GEN_N_TYPES];	/* NDJSON */
	struct buf bundle;		/* Bundle: the entries so far */
	size_t entries;
	size_t count[GEN_N_TYPES];
	size_t total;
	int failed;			/* errno of a failed write */
	int reported;			/* a message about the failure was printed */
	FILE *defects;			/* --defects: the sidecar */
	/* HL7 v2: one patient's messages, then written to adt.hl7 / oru.hl7 */
	struct gen_hl7v2 hl7;
	struct buf adt, oru;
	FILE *adt_file, *oru_file;
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "lienthong: gen: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr, "usage: lienthong gen --patients N --seed S --out DIR"
		" [--format ndjson|bundle|hl7v2]\n"
		"                    [--defects RATE]\n");
	return 2;
}

static int on_ndjson(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct gen_out *o = arg;

	if (fwrite(json, 1, n, o->file[type]) != n || putc('\n', o->file[type]) == EOF) {
		o->failed = errno ? errno : EIO;
		return ERR_IO;
	}
	o->count[type]++;
	o->total++;
	return 0;
}

/* --defects: the sidecar DIR/defects.jsonl, one line per defect. */
static int on_defect(void *arg, const char *json, size_t n)
{
	struct gen_out *o = arg;

	if (fwrite(json, 1, n, o->defects) != n || putc('\n', o->defects) == EOF) {
		o->failed = errno ? errno : EIO;
		return ERR_IO;
	}
	return 0;
}

static int on_bundle(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct gen_out *o = arg;
	const char *t = gen_type_name(type);

	/* No fullUrl: every reference is Type/id, and PUT keeps the ids. */
	if (buf_printf(&o->bundle, "%s{\"resource\":", o->entries ? "," : "") ||
	    buf_append(&o->bundle, json, n) ||
	    buf_printf(&o->bundle, ",\"request\":{\"method\":\"PUT\",\"url\":\"%s/%s\"}}", t, id))
		return ERR_TOO_LARGE;
	o->entries++;
	o->count[type]++;
	o->total++;
	return 0;
}

/* Writes the Bundle gathered so far to DIR/NAME.json and starts another. */
static int flush_bundle(struct gen_out *o, const char *name)
{
	char path[4096];
	FILE *f;
	int ok;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.json", o->dir, name) >= sizeof(path))
		return ERR_TOO_LARGE;
	if (!(f = fopen(path, "w"))) {
		o->failed = errno;
		return ERR_IO;
	}
	ok = fprintf(f, "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[") >= 0 &&
	     fwrite(o->bundle.p ? o->bundle.p : "", 1, o->bundle.n, f) == o->bundle.n &&
	     fprintf(f, "]}\n") >= 0;
	if (fclose(f) || !ok) {
		o->failed = errno ? errno : EIO;
		return ERR_IO;
	}
	buf_clear(&o->bundle);
	o->entries = 0;
	return 0;
}

static FILE *open_out(struct gen_out *o, const char *name)
{
	char path[4096];
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", o->dir, name) >= sizeof(path)) {
		fprintf(stderr, "lienthong: gen: the path %s/%s is too long\n", o->dir, name);
		o->reported = 1;
		return NULL;
	}
	if (!(f = fopen(path, "w"))) {
		fprintf(stderr, "lienthong: gen: %s: %s\n", path, strerror(errno));
		o->reported = 1;
		return NULL;
	}
	setvbuf(f, NULL, _IOFBF, GEN_OUT_BUFFER);
	return f;
}

static int open_ndjson(struct gen_out *o)
{
	for (int t = 0; t < GEN_N_TYPES; t++) {
		char name[64];

		snprintf(name, sizeof(name), "%s.ndjson", gen_type_name((enum gen_type)t));
		if (!(o->file[t] = open_out(o, name)))
			return ERR_IO;
	}
	return 0;
}

static int close_ndjson(struct gen_out *o)
{
	int rc = 0;

	for (int t = 0; t < GEN_N_TYPES; t++) {
		if (o->file[t] && fclose(o->file[t]) && !rc) {
			o->failed = errno;
			rc = ERR_IO;
		}
		o->file[t] = NULL;
	}
	return rc;
}

static void progress(const struct gen_out *o, size_t done, size_t n, int64_t t0, int final)
{
	double s = (double)(time_monotonic_ms() - t0) / 1000.0;
	size_t total = o->format == FORMAT_HL7V2 ? o->hl7.n_adt + o->hl7.n_oru : o->total;
	double rate = s > 0 ? (double)total / s : 0, frac = n ? (double)done / (double)n : 1;

	fprintf(stderr, "\rgen: %3.0f%% %zu/%zu patients, %zu %s, %.0f/s, ETA %.0f s   %s",
		frac * 100, done, n, total, o->format == FORMAT_HL7V2 ? "messages" : "resources", rate,
		frac > 0 && frac < 1 ? s / frac - s : 0.0, final ? "\n" : "");
}

/* ---- HL7 v2 -------------------------------------------------------------------- */


static int write_buf(struct gen_out *o, FILE *f, struct buf *b)
{
	if (b->n && fwrite(b->p, 1, b->n, f) != b->n) {
		o->failed = errno ? errno : EIO;
		return ERR_IO;
	}
	buf_clear(b);
	return 0;
}

/* Patient i's ADT^A04 and ORU^R01 messages, appended to the two files. */
static int hl7v2_patient(struct gen *g, struct gen_out *o, size_t i)
{
	int rc;

	if ((rc = gen_patient(g, i, gen_hl7v2_emit, &o->hl7)) ||
	    (rc = gen_hl7v2_patient_end(&o->hl7)))
		return rc;
	return write_buf(o, o->adt_file, &o->adt) || write_buf(o, o->oru_file, &o->oru) ? ERR_IO : 0;
}

static int close_hl7v2(struct gen_out *o)
{
	int rc = 0;

	if (o->adt_file && fclose(o->adt_file) && !rc) {
		o->failed = errno;
		rc = ERR_IO;
	}
	if (o->oru_file && fclose(o->oru_file) && !rc) {
		o->failed = errno;
		rc = ERR_IO;
	}
	o->adt_file = o->oru_file = NULL;
	return rc;
}

static int parse_count(const char *opt, const char *v, long max, long *out)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < 1 || x > max) {
		fprintf(stderr, "lienthong: gen: %s takes a number from 1 to %ld, not '%s'\n", opt, max, v);
		return 2;
	}
	*out = x;
	return 0;
}

int cmd_gen(int argc, char **argv)
{
	struct gen_out o;
	struct gen *g = NULL;
	const char *seed = NULL, *format = "ndjson";
	long patients = 0;
	double defect_rate = -1;		/* -1: no --defects */
	struct gen_defects *defects = NULL;
	gen_emit_fn emit;
	void *emit_arg = &o;
	int tty = isatty(2), rc = 0;
	int64_t t0, last = 0;
	struct stat sb;
	double s;

	memset(&o, 0, sizeof(o));
	buf_init(&o.bundle, GEN_MAX_BUNDLE_BYTES);
	buf_init(&o.adt, GEN_MAX_HL7V2_BYTES);
	buf_init(&o.oru, GEN_MAX_HL7V2_BYTES);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--patients") && strcmp(a, "--seed") && strcmp(a, "--out") && strcmp(a, "--format") &&
		    strcmp(a, "--defects"))
			return usage_error("unknown argument", a);
		if (i + 1 >= argc)
			return usage_error("a value is missing after", a);
		if (!strcmp(a, "--patients")) {
			if (parse_count(a, argv[++i], GEN_MAX_PATIENTS, &patients))
				return 2;
		} else if (!strcmp(a, "--seed")) {
			seed = argv[++i];
		} else if (!strcmp(a, "--defects")) {
			char *end;

			errno = 0;
			defect_rate = strtod(argv[++i], &end);
			if (errno || end == argv[i] || *end || !(defect_rate >= 0 && defect_rate <= 1))
				return usage_error("--defects takes a fraction from 0 to 1 (0.05 = 5%), not", argv[i]);
		} else if (!strcmp(a, "--out")) {
			o.dir = argv[++i];
		} else {
			format = argv[++i];
		}
	}
	if (!patients)
		return usage_error("--patients is required", NULL);
	if (!seed || !*seed)
		return usage_error("--seed is required (the same seed gives the same city)", NULL);
	if (!o.dir || !*o.dir)
		return usage_error("--out is required", NULL);
	if (!strcmp(format, "ndjson"))
		o.format = FORMAT_NDJSON;
	else if (!strcmp(format, "bundle"))
		o.format = FORMAT_BUNDLE;
	else if (!strcmp(format, "hl7v2"))
		o.format = FORMAT_HL7V2;
	else
		return usage_error("--format is ndjson, bundle or hl7v2, not", format);
	if (o.format == FORMAT_HL7V2 && defect_rate >= 0)	/* a duplicate Patient has no place in them */
		return usage_error("--defects works with --format ndjson or bundle, not", format);
	if (mkdir(o.dir, 0777) && errno != EEXIST) {
		fprintf(stderr, "lienthong: gen: cannot create %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	if (stat(o.dir, &sb) || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "lienthong: gen: %s is not a directory\n", o.dir);
		return 1;
	}
	if (!(g = malloc(sizeof(*g)))) {
		fprintf(stderr, "lienthong: gen: out of memory\n");
		return 1;
	}
	gen_init(g, gen_seed_parse(seed));
	t0 = time_monotonic_ms();
	emit = o.format == FORMAT_NDJSON ? on_ndjson : on_bundle;
	if (defect_rate >= 0) {
		if (!(o.defects = open_out(&o, "defects.jsonl"))) {
			rc = ERR_IO;
			goto out;
		}
		if (!(defects = gen_defects_new(g->seed, defect_rate, emit, &o, on_defect, &o))) {
			rc = ERR_NOMEM;
			goto out;
		}
		emit = gen_defects_emit;
		emit_arg = defects;
	}

	if (o.format == FORMAT_NDJSON) {
		if ((rc = open_ndjson(&o)) || (rc = gen_facilities(g, emit, emit_arg)))
			goto out;
		for (long i = 0; i < patients; i++) {
			if ((rc = gen_patient(g, (size_t)i, emit, emit_arg)))
				goto out;
			if (tty && !(i & 255) && time_monotonic_ms() - last >= 200) {
				last = time_monotonic_ms();
				progress(&o, (size_t)i, (size_t)patients, t0, 0);
			}
		}
		rc = close_ndjson(&o);
	} else if (o.format == FORMAT_HL7V2) {
		/* No facilities: a message names its facility by code (MSH-4). */
		gen_hl7v2_init(&o.hl7, g->seed, &o.adt, &o.oru);
		if (!(o.adt_file = open_out(&o, "adt.hl7")) || !(o.oru_file = open_out(&o, "oru.hl7"))) {
			rc = ERR_IO;
			goto out;
		}
		for (long i = 0; i < patients; i++) {
			if ((rc = hl7v2_patient(g, &o, (size_t)i)))
				goto out;
			if (tty && !(i & 255) && time_monotonic_ms() - last >= 200) {
				last = time_monotonic_ms();
				progress(&o, (size_t)i, (size_t)patients, t0, 0);
			}
		}
		rc = close_hl7v2(&o);
	} else {
		if ((rc = gen_facilities(g, emit, emit_arg)) || (rc = flush_bundle(&o, "facilities")))
			goto out;
		for (long i = 0; i < patients; i++) {
			char name[32];

			snprintf(name, sizeof(name), "gen-pat-%06ld", i + 1);
			if ((rc = gen_patient(g, (size_t)i, emit, emit_arg)) || (rc = flush_bundle(&o, name)))
				goto out;
			if (tty && !(i & 63) && time_monotonic_ms() - last >= 200) {
				last = time_monotonic_ms();
				progress(&o, (size_t)i, (size_t)patients, t0, 0);
			}
		}
	}
out:
	if (close_ndjson(&o) && !rc)
		rc = ERR_IO;
	if (close_hl7v2(&o) && !rc)
		rc = ERR_IO;
	if (o.defects && fclose(o.defects) && !rc) {
		o.failed = errno;
		rc = ERR_IO;
	}
	if (rc) {
		if (tty)
			fputc('\n', stderr);
		if (!o.reported && o.failed)	/* else said where it happened */
			fprintf(stderr, "lienthong: gen: writing to %s failed: %s\n", o.dir,
				strerror(o.failed));
		else if (!o.reported)
			fprintf(stderr, "lienthong: gen: %s\n", err_message(rc));
	} else if (o.format == FORMAT_HL7V2) {
		size_t msgs = o.hl7.n_adt + o.hl7.n_oru;

		if (tty)
			progress(&o, (size_t)patients, (size_t)patients, t0, 1);
		s = (double)(time_monotonic_ms() - t0) / 1000.0;
		fprintf(stderr, "gen: %ld patients, %zu HL7 v2 messages (ADT^A04 %zu, ORU^R01 %zu with "
			"%zu OBX), %.1f MB in %.1f s, %.0f messages/s, %.1f MB/s, to %s/adt.hl7 and "
			"%s/oru.hl7\n", patients, msgs, o.hl7.n_adt, o.hl7.n_oru, o.hl7.n_obx,
			(double)o.hl7.n_bytes / 1e6, s, s > 0 ? (double)msgs / s : 0.0,
			s > 0 ? (double)o.hl7.n_bytes / 1e6 / s : 0.0, o.dir, o.dir);
	} else {
		if (tty)
			progress(&o, (size_t)patients, (size_t)patients, t0, 1);
		s = (double)(time_monotonic_ms() - t0) / 1000.0;
		fprintf(stderr, "gen: %ld patients, %zu resources (", patients, o.total);
		for (int t = 0; t < GEN_N_TYPES; t++)
			fprintf(stderr, "%s%s %zu", t ? ", " : "", gen_type_name((enum gen_type)t), o.count[t]);
		fprintf(stderr, ") in %.1f s, %.0f resources/s, %s to %s\n", s,
			s > 0 ? (double)o.total / s : 0.0,
			o.format == FORMAT_NDJSON ? "NDJSON" : "transaction Bundles", o.dir);
	}
	if (!rc && defects) {
		const struct gen_defects_stats *st = gen_defects_stats(defects);

		fprintf(stderr, "gen: %zu defects at rate %g (", st->lines, defect_rate);
		for (int k = 0; k < GEN_DEFECT_N_KINDS; k++)
			fprintf(stderr, "%s%s %zu", k ? ", " : "",
				gen_defect_kind_name((enum gen_defect_kind)k), st->kind[k]);
		fprintf(stderr, ") in %s/defects.jsonl\n", o.dir);
	}
	buf_release(&o.bundle);
	gen_hl7v2_release(&o.hl7);
	buf_release(&o.adt);
	buf_release(&o.oru);
	gen_defects_free(defects);
	if (g)
		gen_release(g);
	free(g);
	return rc ? 1 : 0;
}
