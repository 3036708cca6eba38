/*
 * test_hl7v2.c — the HL7 v2 parser (src/hl7v2/message.c) and ACKs (ack.c).
 *
 * Each rule of the parser has a case below: delimiters from MSH-1/MSH-2,
 * escapes, repetitions/components/subcomponents, segment terminators, the
 * BOM, MSH-18 character sets, refusals with their location, batches, limits.
 * Then every message in $LT_SHARED_DIR/data/hl7v2 (named in its
 * MANIFEST.tsv) must parse, with the message and segment counts of the
 * manifest; the test is skipped, saying why, when the directory is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "testdata.h"

#include "hl7v2/hl7v2.h"
#include "hl7v2/hl7v2_int.h"

static struct hl7v2_msg *parse(const char *s)
{
	struct hl7v2_msg *m = NULL;
	struct err e = { 0 };
	struct hl7v2_where at = { { 0 }, 0, 0, 0, 0 };
	int rc = hl7v2_parse(s, strlen(s), NULL, &m, &e, &at);

	if (rc)
		fail_msg("parse failed: %s (%s seq %d field %d code %d)", e.issue[0].diagnostics,
			 at.segment, at.seq, at.field, at.code);
	assert_non_null(m);
	return m;
}

/* The parse must fail with rc and where *at says. */
static void refuse(const char *s, size_t n, int rc, const char *seg, int seq, int field, int code)
{
	struct hl7v2_msg *m = (struct hl7v2_msg *)1;
	struct err e = { 0 };
	struct hl7v2_where at;

	memset(&at, 0x55, sizeof(at));
	assert_int_equal(hl7v2_parse(s, n, NULL, &m, &e, &at), rc);
	assert_null(m);
	assert_int_equal(e.code, rc);
	assert_true(e.n_issues >= 1 && e.issue[0].diagnostics[0]);
	assert_string_equal(at.segment, seg);
	assert_int_equal(at.seq, seq);
	assert_int_equal(at.field, field);
	assert_int_equal(at.code, code);
}

#define REFUSE(lit, ...) refuse(lit, sizeof(lit) - 1, __VA_ARGS__)

/* hl7v2_get is want (NULL: absent). */
static void expect(const struct hl7v2_msg *m, size_t i, int f, int r, int c, int s, const char *want)
{
	struct hl7v2_str v = hl7v2_get(m, i, f, r, c, s);

	if (!want) {
		if (v.p)
			fail_msg("%s-%d[%d].%d.%d: want absent, got \"%.*s\"", hl7v2_segment_name(m, i), f,
				 r, c, s, (int)v.n, v.p);
		return;
	}
	if (!v.p)
		fail_msg("%s-%d[%d].%d.%d: want \"%s\", got absent", hl7v2_segment_name(m, i), f, r, c,
			 s, want);
	if (v.n != strlen(want) || memcmp(v.p, want, v.n))
		fail_msg("%s-%d[%d].%d.%d: want \"%s\", got \"%.*s\"", hl7v2_segment_name(m, i), f, r,
			 c, s, want, (int)v.n, v.p);
}

static const char ORU[] =
	"MSH|^~\\&|LAB|HOSP^1.2.3^ISO|EMR|HOSP|20240102030405||ORU^R01^ORU_R01|CTRL1|P|2.5.1|||AL|NE||UNICODE UTF-8\r"
	"PID|1||123^^^HOSP^MR~456^^^NATION^NI||DOE^JOHN^Q||19700101|M|||1 Main St^^Ho Chi Minh^^70000^VN\r"
	"OBR|1|ORD1|FIL1|24331-1^Lipid panel^LN\r"
	"OBX|1|NM|2093-3^Cholesterol^LN||190|mg/dL^milligram per deciliter^UCUM|<200||||F\r"
	"OBX|2|ST|X^Note||\"\"|a&b&c\r"
	"ZPI|custom|data\r";

static void structure(void **state)
{
	struct hl7v2_msg *m = parse(ORU);

	assert_int_equal(hl7v2_segments(m), 6);
	assert_string_equal(hl7v2_segment_name(m, 0), "MSH");
	assert_string_equal(hl7v2_segment_name(m, 5), "ZPI");
	assert_null(hl7v2_segment_name(m, 6));
	assert_int_equal(hl7v2_find(m, "OBX", 0), 3);
	assert_int_equal(hl7v2_find(m, "OBX", 4), 4);
	assert_int_equal(hl7v2_find(m, "OBX", 5), -1);
	assert_int_equal(hl7v2_find(m, "ZPI", 0), 5);
	assert_int_equal(hl7v2_find(m, "NTE", 0), -1);

	expect(m, 0, 1, 0, 0, 0, "|");
	expect(m, 0, 2, 0, 0, 0, "^~\\&");
	expect(m, 0, 2, 0, 1, 0, "^~\\&");
	expect(m, 0, 2, 0, 2, 0, NULL);
	expect(m, 0, 3, 0, 0, 0, "LAB");
	expect(m, 0, 4, 0, 2, 0, "1.2.3");
	expect(m, 0, 9, 0, 0, 0, "ORU^R01^ORU_R01");
	expect(m, 0, 9, 0, 3, 0, "ORU_R01");
	expect(m, 0, 9, 0, 4, 0, NULL);
	expect(m, 0, 10, 0, 0, 0, "CTRL1");
	expect(m, 0, 18, 0, 0, 0, "UNICODE UTF-8");
	expect(m, 0, 19, 0, 0, 0, NULL);

	/* repetitions count from 0, components and subcomponents from 1 */
	assert_int_equal(hl7v2_reps(m, 1, 3), 2);
	assert_int_equal(hl7v2_reps(m, 1, 2), 0);	/* present, empty */
	assert_int_equal(hl7v2_reps(m, 1, 40), 0);	/* absent */
	assert_int_equal(hl7v2_reps(m, 0, 1), 1);
	assert_int_equal(hl7v2_reps(m, 0, 2), 1);
	expect(m, 1, 3, 0, 1, 0, "123");
	expect(m, 1, 3, 1, 1, 0, "456");
	expect(m, 1, 3, 1, 5, 0, "NI");
	expect(m, 1, 3, 1, 0, 0, "456^^^NATION^NI");
	expect(m, 1, 3, 2, 0, 0, NULL);
	expect(m, 1, 3, 0, 2, 0, "");	/* present, empty */
	expect(m, 1, 3, 0, 6, 0, NULL);
	expect(m, 1, 2, 0, 0, 0, "");
	expect(m, 1, 5, 0, 2, 1, "JOHN");
	expect(m, 1, 5, 0, 2, 2, NULL);
	expect(m, 4, 5, 0, 0, 0, "\"\"");	/* the HL7 null as its two characters */
	expect(m, 4, 6, 0, 1, 2, "b");
	expect(m, 4, 6, 0, 1, 0, "a&b&c");
	expect(m, 4, 6, 0, 1, 4, NULL);
	expect(m, 4, 7, 0, 0, 0, NULL);
	expect(m, 5, 2, 0, 0, 0, "data");
	/* out of range */
	expect(m, 9, 1, 0, 0, 0, NULL);
	expect(m, 1, 0, 0, 0, 0, NULL);
	expect(m, 1, 3, -1, 0, 0, NULL);
	expect(m, 1, 3, 0, -1, 0, NULL);
	{
		struct hl7v2_str v = hl7v2_get(m, 1, 2, 0, 0, 0);

		assert_non_null(v.p);
		assert_int_equal(v.n, 0);
	}
	hl7v2_free(m);
	hl7v2_free(NULL);
}

static void header(void **state)
{
	struct hl7v2_msg *m = parse(ORU);
	struct hl7v2_header h;

	hl7v2_header(m, &h);
	assert_int_equal(h.sending_app.n, 3);
	assert_memory_equal(h.sending_app.p, "LAB", 3);
	assert_memory_equal(h.sending_facility.p, "HOSP", 4);
	assert_int_equal(h.sending_facility.n, 4);
	assert_memory_equal(h.receiving_app.p, "EMR", 3);
	assert_memory_equal(h.message_code.p, "ORU", 3);
	assert_memory_equal(h.trigger.p, "R01", 3);
	assert_memory_equal(h.structure.p, "ORU_R01", 7);
	assert_memory_equal(h.control_id.p, "CTRL1", 5);
	assert_memory_equal(h.processing_id.p, "P", 1);
	assert_int_equal(h.version.n, 5);
	assert_memory_equal(h.version.p, "2.5.1", 5);
	assert_memory_equal(h.accept_ack.p, "AL", 2);
	assert_memory_equal(h.app_ack.p, "NE", 2);
	assert_int_equal(h.charset.n, 13);
	hl7v2_free(m);
}

/* CR, LF, CRLF, mixed, blank lines and a BOM give the same message. */
static void terminators(void **state)
{
	static const char *const texts[] = {
		"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.4\rPID|1||X\rPV1|1|I\r",
		"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.4\nPID|1||X\nPV1|1|I\n",
		"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.4\r\nPID|1||X\r\nPV1|1|I\r\n",
		"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.4\r\nPID|1||X\nPV1|1|I",
		"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.4\r\r\n\n  \nPID|1||X\r \t\rPV1|1|I\n\n",
		"\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.4\nPID|1||X\nPV1|1|I\n",
	};

	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		struct hl7v2_msg *m = parse(texts[k]);

		assert_int_equal(hl7v2_segments(m), 3);
		expect(m, 0, 12, 0, 0, 0, "2.4");
		expect(m, 1, 3, 0, 0, 0, "X");
		expect(m, 2, 2, 0, 0, 0, "I");
		expect(m, 2, 3, 0, 0, 0, NULL);
		assert_string_equal(hl7v2_segment_name(m, 0), "MSH");
		hl7v2_free(m);
	}
}

static void escapes(void **state)
{
	struct hl7v2_msg *m = parse(
		"MSH|^~\\&|A||||||ADT^A01|1|P|2.5\r"
		"NTE|1|\\F\\\\S\\\\T\\\\R\\\\E\\|A\\S\\B^C\\R\\D~E\\T\\F&G|\\X41\\\\X4243\\|x\\.br\\y|"
		"a\\.sp\\b\\.sp 2\\c\\.in+4\\d\\.ti-2\\e\\.sk 3\\f\\.fi\\\\.nf\\\\.ce\\g|\\H\\bold\\N\\|"
		"\\Zfoo\\|C:\\dir|\\\\|\\X\\\\X4\\\\XZZ\\\\X00\\|\\P\\|\\Cxxyy\\end|\\.br 2\\|"
		"\\XC3A9\\|\\XC3\\|\\X5E\\^z\r");

	expect(m, 1, 2, 0, 0, 0, "|^&~\\");
	/* an escaped separator does not separate */
	expect(m, 1, 3, 0, 0, 0, "A^B^C~D");
	expect(m, 1, 3, 0, 1, 0, "A^B");
	expect(m, 1, 3, 0, 2, 0, "C~D");
	expect(m, 1, 3, 0, 3, 0, NULL);
	assert_int_equal(hl7v2_reps(m, 1, 3), 2);
	expect(m, 1, 3, 1, 0, 0, "E&F&G");
	expect(m, 1, 3, 1, 1, 1, "E&F");
	expect(m, 1, 3, 1, 1, 2, "G");
	expect(m, 1, 4, 0, 0, 0, "ABC");
	expect(m, 1, 5, 0, 0, 0, "x\ny");
	expect(m, 1, 6, 0, 0, 0, "a\nb\nc" "d" "e" " f" "\ng");
	expect(m, 1, 7, 0, 0, 0, "bold");
	/* unknown escapes and lone escape characters are kept as they came */
	expect(m, 1, 8, 0, 0, 0, "\\Zfoo\\");
	expect(m, 1, 9, 0, 0, 0, "C:\\dir");
	expect(m, 1, 10, 0, 0, 0, "\\\\");
	expect(m, 1, 11, 0, 0, 0, "\\X\\\\X4\\\\XZZ\\\\X00\\");
	expect(m, 1, 12, 0, 0, 0, "\\P\\");	/* no truncation character before v2.7 */
	expect(m, 1, 13, 0, 0, 0, "\\Cxxyy\\end");
	expect(m, 1, 14, 0, 0, 0, "\\.br 2\\");
	/* \X..\ must give UTF-8 in a UTF-8 message */
	expect(m, 1, 15, 0, 0, 0, "\xC3\xA9");
	expect(m, 1, 16, 0, 0, 0, "\\XC3\\");
	expect(m, 1, 17, 0, 0, 0, "^^z");
	expect(m, 1, 17, 0, 1, 0, "^");
	expect(m, 1, 17, 0, 2, 0, "z");
	hl7v2_free(m);
}

/* Any delimiters MSH-1 and MSH-2 name; the v2.7 truncation character. */
static void encoding_characters(void **state)
{
	struct hl7v2_msg *m = parse("MSH#$%@!#A#B#C#D###ADT$A01#1#P#2.3\r"
				    "PID#1##a$b%c$d!e#@F@@S@@R@@T@@E@|^~\\&\r");

	expect(m, 0, 1, 0, 0, 0, "#");
	expect(m, 0, 2, 0, 0, 0, "$%@!");
	expect(m, 0, 9, 0, 2, 0, "A01");
	expect(m, 1, 3, 0, 2, 0, "b");
	expect(m, 1, 3, 1, 1, 0, "c");
	expect(m, 1, 3, 1, 2, 2, "e");
	expect(m, 1, 4, 0, 0, 0, "#$%!@|^~\\&");
	hl7v2_free(m);

	m = parse("MSH|^~\\&#|A||||||ADT^A01|1|P|2.7\rNTE|1|long tex#|\\P\\#\r");
	expect(m, 0, 2, 0, 0, 0, "^~\\&#");
	expect(m, 1, 2, 0, 0, 0, "long tex#");
	expect(m, 1, 3, 0, 0, 0, "##");
	hl7v2_free(m);

	/* fewer than four: the missing ones are not used */
	m = parse("MSH|^~}|A||||||BAR^P01|1|P|2.1\rPID|1|a&b}F}\r");
	expect(m, 1, 2, 0, 0, 0, "a&b|");
	expect(m, 1, 2, 0, 1, 2, NULL);
	hl7v2_free(m);
	m = parse("MSH|^|A\rPID|1|a~b\\F\\\r");
	expect(m, 1, 2, 0, 0, 0, "a~b\\F\\");
	assert_int_equal(hl7v2_reps(m, 1, 2), 1);
	hl7v2_free(m);
}

static void charsets(void **state)
{
	struct hl7v2_msg *m;

	m = parse("MSH|^~\\&|A||||||ADT^A01|1|P|2.5|||||VN|8859/1\rPID|1||\xE9t\xE9|\\XE9\\\r");
	expect(m, 1, 3, 0, 0, 0, "\xC3\xA9t\xC3\xA9");
	expect(m, 1, 4, 0, 0, 0, "\xC3\xA9");
	hl7v2_free(m);
	/* after a BOM too (found by fuzz_hl7v2: MSH-17 was read instead) */
	m = parse("\xEF\xBB\xBFMSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||8859/1\rPID|1||\xE9\r");
	expect(m, 1, 3, 0, 0, 0, "\xC3\xA9");
	hl7v2_free(m);
	REFUSE("\xEF\xBB\xBFMSH|^~\\&|A||||||ADT^A01|1|P|2.5|||||8859/1|\rPID|1||\xE9\r", ERR_INVALID,
	       "PID", 2, 3, 102);
	m = parse("MSH|^~\\&|A||||||ADT^A01|1|P|2.5|||||| iso ir100 ~ISO IR87\rPID|1||\xFC\r");
	expect(m, 1, 3, 0, 0, 0, "\xC3\xBC");
	hl7v2_free(m);
	m = parse("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||8859/15\rPID|1||\xA4|\xBD\r");
	expect(m, 1, 3, 0, 0, 0, "\xE2\x82\xAC");
	expect(m, 1, 4, 0, 0, 0, "\xC5\x93");
	hl7v2_free(m);
	m = parse("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||UNICODE UTF-8\rPID|1||Nguy\xE1\xBB\x85n\r");
	expect(m, 1, 3, 0, 0, 0, "Nguy\xE1\xBB\x85n");
	hl7v2_free(m);
	/* no MSH-18, and ASCII: UTF-8 is accepted (ASCII is its subset) */
	m = parse("MSH|^~\\&|A||||||ADT^A01|1|P|2.5\rPID|1||SEBASTI\xC3\x81N\r");
	expect(m, 1, 3, 0, 0, 0, "SEBASTI\xC3\x81N");
	hl7v2_free(m);
	m = parse("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||ASCII\rPID|1||plain\r");
	hl7v2_free(m);

	/* not UTF-8: refused, with where */
	REFUSE("MSH|^~\\&|A||||||ADT^A01|1|P|2.5\rPID|1||\xE9t\xE9\r", ERR_INVALID, "PID", 2, 3,
	       102);
	REFUSE("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||UNICODE UTF-8\rPID|1|\xC0\xAF\r", ERR_INVALID, "PID", 2, 2, 102);
	REFUSE("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||UNICODE UTF-8\rPID|1|\xED\xA0\x80\r", ERR_INVALID, "PID", 2, 2, 102);
	REFUSE("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||BIG-5\rPID|1|x\r", ERR_NOT_SUPPORTED, "MSH",
	       1, 18, 103);
	/* a byte that 8859/3 leaves undefined */
	REFUSE("MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||8859/3\rPID|1|\xA5\r", ERR_INVALID, "PID", 2,
	       2, 102);
}

static void refusals(void **state)
{
	static const char big_batch[] = "BHS|^~\\&|A\rMSH|^~\\&|A\r";

	REFUSE("", ERR_INVALID, "", 1, 0, 100);
	REFUSE("PID|1||X\r", ERR_INVALID, "PID", 1, 0, 100);
	REFUSE("hello world", ERR_INVALID, "", 1, 0, 100);
	REFUSE(big_batch, ERR_INVALID, "BHS", 1, 0, 100);
	REFUSE("MSH", ERR_INVALID, "MSH", 1, 1, 102);
	REFUSE("MSHA^~\\&|", ERR_INVALID, "MSH", 1, 1, 102);
	REFUSE("MSH ^~\\&|", ERR_INVALID, "MSH", 1, 1, 102);
	REFUSE("MSH||A|B\r", ERR_INVALID, "MSH", 1, 2, 102);
	REFUSE("MSH|^^\\&|A\r", ERR_INVALID, "MSH", 1, 2, 102);
	REFUSE("MSH|^~\\&#*|A\r", ERR_INVALID, "MSH", 1, 2, 102);
	REFUSE("MSH|^~A&|A\r", ERR_INVALID, "MSH", 1, 2, 102);
}

static void refusals_inside(void **state)
{
	static const char nul[] = "MSH|^~\\&|A\rPID|1|a\0b\r";

	REFUSE("MSH|^~\\&|A\rPID|1\r// comment\r", ERR_INVALID, "", 3, 0, 100);
	REFUSE("MSH|^~\\&|A\rpid|1\r", ERR_INVALID, "", 2, 0, 100);
	REFUSE("MSH|^~\\&|A\rPIDX|1\r", ERR_INVALID, "", 2, 0, 100);
	REFUSE("MSH|^~\\&|A\rPI\r", ERR_INVALID, "", 2, 0, 100);
	REFUSE("MSH|^~\\&|A\rPID|1\rMSH|^~\\&|B\r", ERR_INVALID, "MSH", 3, 0, 100);
	REFUSE(nul, ERR_INVALID, "PID", 2, 2, 102);
}

static void limits(void **state)
{
	struct hl7v2_limits lim = { .max_bytes = 30, .max_segments = 2 };
	struct hl7v2_msg *m = NULL;
	struct err e = { 0 };
	struct hl7v2_where at;
	const char *three = "MSH|^~\\&|A\rPID|1\rPV1|1\r";

	assert_int_equal(hl7v2_parse(ORU, strlen(ORU), &lim, &m, &e, &at), ERR_TOO_LARGE);
	assert_null(m);
	err_clear(&e);
	lim.max_bytes = 0;	/* default */
	assert_int_equal(hl7v2_parse(three, strlen(three), &lim, &m, &e, &at), ERR_TOO_LARGE);
	assert_int_equal(at.seq, 3);
	lim.max_segments = 3;
	assert_int_equal(hl7v2_parse(three, strlen(three), &lim, &m, NULL, NULL), 0);
	hl7v2_free(m);
}

/* Big hostile inputs stay linear: many fields, many escapes, lone escape
 * characters, long unterminated escape sequences. */
static void linear_time(void **state)
{
	static const char *const fill[] = { "|", "\\", "\\F\\", "\\X41", "^~&", "\\Zab" };
	size_t n = 4 << 20;
	char *s = malloc(n);

	assert_non_null(s);
	for (size_t k = 0; k < sizeof(fill) / sizeof(fill[0]); k++) {
		struct hl7v2_msg *m = NULL;
		clock_t t0 = clock();
		size_t o = 0, len = strlen(fill[k]);
		double secs;

		memcpy(s, "MSH|^~\\&|A\rNTE|", 15);
		for (o = 15; o + len < n; o += len)
			memcpy(s + o, fill[k], len);
		assert_int_equal(hl7v2_parse(s, o, NULL, &m, NULL, NULL), 0);
		(void)hl7v2_get(m, 1, 1, 0, 0, 0);
		(void)hl7v2_reps(m, 1, 1);
		hl7v2_free(m);
		secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
		if (secs > 2.0)
			fail_msg("4 MiB of \"%s\" took %.2f s", fill[k], secs);
	}
	free(s);
}

struct collected {
	int n;
	char first[8][64];
	size_t len[8];
	int stop_at;
};

static int collect(void *arg, const char *p, size_t n)
{
	struct collected *c = arg;

	if (c->n < 8) {
		c->len[c->n] = n;
		snprintf(c->first[c->n], sizeof(c->first[0]), "%.*s", (int)(n < 40 ? n : 40), p);
	}
	c->n++;
	return c->n == c->stop_at ? 42 : 0;
}

static void split(void **state)
{
	static const char batch[] =
		"\xEF\xBB\xBF" "FHS|^~\\&|A\r"
		"BHS|^~\\&|A\r"
		"MSH|^~\\&|A|||||||1|P|2.5\rPID|1\r"
		"MSH|^~\\&|A|||||||2|P|2.5\nPID|2\n\n"
		"BTS|2\r"
		"FTS|1\r";
	static const char plain[] = "junk\nMSH|^~\\&|1\rPID|1\r\nMSHX\nMSH|^~\\&|2\r";
	struct collected c = { 0 };

	assert_int_equal(hl7v2_split(batch, sizeof(batch) - 1, collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.first[0], "MSH|^~\\&|A|||||||1|P|2.5\rPID|1\r");
	assert_string_equal(c.first[1], "MSH|^~\\&|A|||||||2|P|2.5\nPID|2\n\n");

	memset(&c, 0, sizeof(c));
	assert_int_equal(hl7v2_split(plain, sizeof(plain) - 1, collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.first[0], "MSH|^~\\&|1\rPID|1\r\nMSHX\n");
	assert_string_equal(c.first[1], "MSH|^~\\&|2\r");

	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	assert_int_equal(hl7v2_split(plain, sizeof(plain) - 1, collect, &c), 42);
	assert_int_equal(c.n, 1);

	memset(&c, 0, sizeof(c));
	assert_int_equal(hl7v2_split("no message", 10, collect, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(hl7v2_split("", 0, collect, &c), 0);
	assert_int_equal(c.n, 0);
}

/* ---- ACKs ------------------------------------------------------------------------ */

/* Parses the ACK in b; checks MSH-9, MSA-1 and MSA-2. */
static struct hl7v2_msg *parse_ack(const struct buf *b, const char *code, const char *control_id)
{
	struct hl7v2_msg *a = NULL;
	struct err e = { 0 };

	if (hl7v2_parse(b->p, b->n, NULL, &a, &e, NULL))
		fail_msg("the ACK does not parse: %s\n%s", e.issue[0].diagnostics, b->p);
	assert_string_equal(hl7v2_segment_name(a, 1), "MSA");
	expect(a, 0, 9, 0, 1, 0, "ACK");
	expect(a, 0, 9, 0, 3, 0, "ACK");
	expect(a, 1, 1, 0, 0, 0, code);
	expect(a, 1, 2, 0, 0, 0, control_id);
	for (size_t k = 0; k < b->n; k++)
		assert_true(b->p[k] != '\n');
	assert_int_equal(b->p[b->n - 1], '\r');
	return a;
}

static void ack_accept(void **state)
{
	struct hl7v2_msg *m = parse(ORU), *a;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AA, NULL, NULL, "ACK1", &b), 0);
	a = parse_ack(&b, "AA", "CTRL1");
	assert_int_equal(hl7v2_segments(a), 2);
	expect(a, 0, 2, 0, 0, 0, "^~\\&");
	expect(a, 0, 3, 0, 0, 0, "EMR");
	expect(a, 0, 4, 0, 0, 0, "HOSP");
	expect(a, 0, 5, 0, 0, 0, "LAB");
	expect(a, 0, 6, 0, 0, 0, "HOSP^1.2.3^ISO");
	expect(a, 0, 9, 0, 0, 0, "ACK^R01^ACK");
	expect(a, 0, 10, 0, 0, 0, "ACK1");
	expect(a, 0, 11, 0, 0, 0, "P");
	expect(a, 0, 12, 0, 0, 0, "2.5.1");
	expect(a, 0, 18, 0, 0, 0, NULL);	/* ASCII only */
	{
		struct hl7v2_str t = hl7v2_get(a, 0, 7, 0, 0, 0);

		assert_int_equal(t.n, 23);	/* YYYYMMDDHHMMSS.SSS+0000 */
		assert_memory_equal(t.p + 18, "+0000", 5);
		assert_true(t.p[0] == '2' && t.p[14] == '.');
	}
	hl7v2_free(a);
	b.n = 0;
	/* a fresh control id of our own when none is given */
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_CA, NULL, NULL, NULL, &b), 0);
	a = parse_ack(&b, "CA", "CTRL1");
	assert_int_equal(hl7v2_get(a, 0, 10, 0, 0, 0).n, 20);
	hl7v2_free(a);
	buf_release(&b);
	hl7v2_free(m);
}

static void ack_error_v25(void **state)
{
	struct hl7v2_msg *m = parse(ORU), *a;
	struct hl7v2_where at = { "PID", 2, 3, 0, 102 };
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AE, &at, "bad | id ^ here\nnext", "X", &b), 0);
	a = parse_ack(&b, "AE", "CTRL1");
	assert_non_null(strstr(b.p, "bad \\F\\ id \\S\\ here\\X0A\\next"));
	assert_int_equal(hl7v2_find(a, "ERR", 0), 2);
	expect(a, 1, 3, 0, 0, 0, NULL);	/* no MSA-3 from v2.5 on */
	expect(a, 2, 1, 0, 0, 0, "");
	expect(a, 2, 2, 0, 0, 0, "PID^2^3");
	expect(a, 2, 3, 0, 0, 0, "102^Data type error^HL70357");
	expect(a, 2, 4, 0, 0, 0, "E");
	expect(a, 2, 8, 0, 0, 0, "bad | id ^ here\nnext");
	hl7v2_free(a);

	b.n = 0;
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AR, NULL, NULL, "X", &b), 0);
	a = parse_ack(&b, "AR", "CTRL1");
	expect(a, 2, 2, 0, 0, 0, "");
	expect(a, 2, 3, 0, 0, 0, "207^Application internal error^HL70357");
	expect(a, 2, 8, 0, 0, 0, NULL);
	hl7v2_free(a);
	buf_release(&b);
	hl7v2_free(m);
}

static void ack_error_v23(void **state)
{
	struct hl7v2_msg *m = parse("MSH|^~\\&|LAB|H|EMR|H|2024||ORM^O01|C\\F\\9|T|2.3\rPID|1\r"), *a;
	struct hl7v2_where at = { "PID", 2, 5, 0, 101 };
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AE, &at, "name missing", "X", &b), 0);
	a = parse_ack(&b, "AE", "C|9");
	expect(a, 0, 9, 0, 0, 0, "ACK^O01^ACK");
	expect(a, 0, 11, 0, 0, 0, "T");
	expect(a, 0, 12, 0, 0, 0, "2.3");
	expect(a, 1, 3, 0, 0, 0, "name missing");
	expect(a, 2, 1, 0, 0, 0, "PID^2^5^101&Required field missing&HL70357");
	expect(a, 2, 1, 0, 4, 1, "101");
	expect(a, 2, 2, 0, 0, 0, NULL);
	hl7v2_free(a);
	buf_release(&b);
	hl7v2_free(m);
}

/* The ACK keeps the message's delimiters and escapes with them. */
static void ack_delimiters(void **state)
{
	struct hl7v2_msg *m = parse("MSH#$%@!#SND$X#F#RCV#G#2024##ADT$A04#ID@F@1#P#2.4\rPID#1\r"), *a;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AE, NULL, "a#b$c@d", "X", &b), 0);
	assert_memory_equal(b.p, "MSH#$%@!#RCV#G#SND$X#F#", 23);
	a = parse_ack(&b, "AE", "ID#1");
	expect(a, 1, 3, 0, 0, 0, "a#b$c@d");
	expect(a, 2, 1, 0, 0, 0, "$$$207!Application internal error!HL70357");
	hl7v2_free(a);
	buf_release(&b);
	hl7v2_free(m);

	/* no escape character: the standard delimiters */
	m = parse("MSH|^~|A||||||ADT^A01|I|P|2.5\r");
	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AA, NULL, NULL, "X", &b), 0);
	assert_memory_equal(b.p, "MSH|^~\\&|", 9);
	hl7v2_free(parse_ack(&b, "AA", "I"));
	buf_release(&b);
	hl7v2_free(m);

	/* '-' as a delimiter would cut "UNICODE UTF-8" (found by fuzz_hl7v2):
	 * the standard ones; '.' as one: the time in MSH-7 is escaped */
	m = parse("MSH|^-\\&|A|\xC3\xA9|||||ADT^A01|I-J|P|2.5\r");
	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AA, NULL, NULL, "X", &b), 0);
	assert_memory_equal(b.p, "MSH|^~\\&|", 9);
	a = parse_ack(&b, "AA", "I");
	expect(a, 0, 18, 0, 0, 0, "UNICODE UTF-8");
	assert_int_equal(hl7v2_reps(a, 1, 2), 1);	/* MSH-10 does not repeat: the first one */
	hl7v2_free(a);
	buf_release(&b);
	hl7v2_free(m);
	m = parse("MSH|.~\\&|A||||||ADT.A01|I|P|2.5\r");
	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AA, NULL, NULL, "X", &b), 0);
	a = parse_ack(&b, "AA", "I");
	assert_int_equal(hl7v2_get(a, 0, 7, 0, 1, 0).n, 23);
	hl7v2_free(a);
	buf_release(&b);
	hl7v2_free(m);

	/* non-ASCII: the ACK says UTF-8 in MSH-18 */
	m = parse("MSH|^~\\&|A|B\xC3\xA9|||||ADT^A01|I|P|2.5||||||8859/1\r");
	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AA, NULL, NULL, "X", &b), 0);
	a = parse_ack(&b, "AA", "I");
	expect(a, 0, 18, 0, 0, 0, "UNICODE UTF-8");
	expect(a, 0, 6, 0, 0, 0, "B\xC3\x83\xC2\xA9");	/* é in 8859/1 was Ã© */
	hl7v2_free(a);
	buf_release(&b);
	hl7v2_free(m);
}

/* m == NULL: what can be read from the raw bytes. */
static void ack_unparsed(void **state)
{
	static const char bad_segment[] = "MSH|^~\\&|LAB|H|EMR|H|2024||ORU^R01|RAW1|P|2.4\rPID|1\r%%%\r";
	static const char bad_utf8[] = "\xEF\xBB\xBFMSH|^~\\&|LAB\xFF|H|EMR|H|2024||ORU^R01|RAW2|P|2.5\r";
	static const char bad_enc[] = "MSH|^^^^|LAB|H|EMR|H|2024||ORU^R01|RAW3|P|2.5\r";
	static const char junk_first[] = "junk\nMSH|^~\\&|LAB|H|EMR|H|2024||ADT^A08|RAW4|P|2.5\r";
	struct hl7v2_msg *a;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(NULL, bad_segment, sizeof(bad_segment) - 1, HL7V2_AR, NULL,
				   "not a segment", "X", &b), 0);
	a = parse_ack(&b, "AR", "RAW1");
	expect(a, 0, 3, 0, 0, 0, "EMR");
	expect(a, 0, 9, 0, 0, 0, "ACK^R01^ACK");
	expect(a, 0, 12, 0, 0, 0, "2.4");
	expect(a, 1, 3, 0, 0, 0, "not a segment");
	hl7v2_free(a);

	b.n = 0;
	assert_int_equal(hl7v2_ack(NULL, bad_utf8, sizeof(bad_utf8) - 1, HL7V2_AR, NULL, NULL, "X",
				   &b), 0);
	a = parse_ack(&b, "AR", "RAW2");
	expect(a, 0, 5, 0, 0, 0, "LAB?");
	hl7v2_free(a);

	b.n = 0;
	assert_int_equal(hl7v2_ack(NULL, bad_enc, sizeof(bad_enc) - 1, HL7V2_AR, NULL, NULL, "X", &b),
			 0);
	a = parse_ack(&b, "AR", "RAW3");
	expect(a, 0, 12, 0, 0, 0, "2.5");
	hl7v2_free(a);

	b.n = 0;
	assert_int_equal(hl7v2_ack(NULL, junk_first, sizeof(junk_first) - 1, HL7V2_AE, NULL, NULL,
				   "X", &b), 0);
	a = parse_ack(&b, "AE", "RAW4");
	expect(a, 0, 9, 0, 0, 0, "ACK^A08^ACK");
	hl7v2_free(a);

	b.n = 0;
	assert_int_equal(hl7v2_ack(NULL, "\x01\x02garbage", 9, HL7V2_AR, NULL, NULL, "X", &b), 0);
	a = parse_ack(&b, "AR", "");
	expect(a, 0, 12, 0, 0, 0, "2.5");
	hl7v2_free(a);

	b.n = 0;
	assert_int_equal(hl7v2_ack(NULL, NULL, 0, HL7V2_AR, NULL, NULL, "X", &b), 0);
	hl7v2_free(parse_ack(&b, "AR", ""));
	buf_release(&b);
}

static void ack_buffer_limit(void **state)
{
	struct hl7v2_msg *m = parse(ORU);
	struct buf b;

	buf_init(&b, 20);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AA, NULL, NULL, "X", &b), ERR_TOO_LARGE);
	assert_int_equal(b.n, 0);
	buf_release(&b);
	hl7v2_free(m);
}

/* ---- the shared sample messages ------------------------------------------------- */

struct sample_stats {
	const char *file;
	int messages, parsed, segments, acks;
};

static int parse_sample(void *arg, const char *p, size_t n)
{
	struct sample_stats *st = arg;
	struct hl7v2_msg *m = NULL, *a = NULL;
	struct err e = { 0 };
	struct hl7v2_where at = { { 0 }, 0, 0, 0, 0 };
	struct hl7v2_header h;
	struct buf b;

	st->messages++;
	if (hl7v2_parse(p, n, NULL, &m, &e, &at)) {
		print_message("  %s message %d: %s (%s seq %d field %d, code %d)\n", st->file,
			      st->messages, e.issue[0].diagnostics, at.segment, at.seq, at.field,
			      at.code);
		return 0;
	}
	st->parsed++;
	st->segments += (int)hl7v2_segments(m);
	hl7v2_header(m, &h);
	assert_non_null(h.message_code.p);
	buf_init(&b, 0);
	assert_int_equal(hl7v2_ack(m, NULL, 0, HL7V2_AA, NULL, NULL, "X", &b), 0);
	if (hl7v2_parse(b.p, b.n, NULL, &a, &e, NULL) == 0) {
		struct hl7v2_str want = hl7v2_get(m, 0, 10, 0, 0, 0), got = hl7v2_get(a, 1, 2, 0, 0, 0);

		if (got.n == want.n && (!want.n || memcmp(got.p, want.p, want.n) == 0))
			st->acks++;
	}
	hl7v2_free(a);
	buf_release(&b);
	hl7v2_free(m);
	return 0;
}

/* Lines of the sample files that are comments of the file, not HL7
 * (hapi's messages.txt: // and C comments between messages), removed;
 * *dropped counts them (MANIFEST.tsv counts them as segments). */
static size_t strip_comments(char *p, size_t n, int *dropped)
{
	size_t i = 0, o = 0;
	int in_block = 0;

	while (i < n) {
		size_t j = i;
		int drop;

		while (j < n && p[j] != '\r' && p[j] != '\n')
			j++;
		if (j < n)
			j++;
		drop = in_block || (j - i >= 2 && (memcmp(p + i, "//", 2) == 0 || memcmp(p + i, "/*", 2) == 0));
		if (j - i >= 2 && memcmp(p + i, "/*", 2) == 0)
			in_block = 1;
		for (size_t k = i; k + 1 < j; k++)
			if (p[k] == '*' && p[k + 1] == '/')
				in_block = 0;
		if (!drop) {
			memmove(p + o, p + i, j - i);
			o += j - i;
		} else {
			(*dropped)++;
		}
		i = j;
	}
	return o;
}

/* Batch envelope lines (FHS, BHS, BTS, FTS): hl7v2_split leaves them out,
 * MANIFEST.tsv counts them as segments. */
static int envelope_lines(const char *p, size_t n)
{
	int count = 0;

	for (size_t i = 0; i < n;) {
		if (n - i >= 4 && p[i + 3] == '|' &&
		    (memcmp(p + i, "FHS", 3) == 0 || memcmp(p + i, "BHS", 3) == 0 ||
		     memcmp(p + i, "BTS", 3) == 0 || memcmp(p + i, "FTS", 3) == 0))
			count++;
		while (i < n && p[i] != '\r' && p[i] != '\n')
			i++;
		i++;
	}
	return count;
}

static void shared_samples(void **state)
{
	const char *shared = getenv("LT_SHARED_DIR");
	char dir[2048], path[4096], line[1024];
	int files = 0, messages = 0, parsed = 0, acks = 0;
	FILE *manifest;

	snprintf(dir, sizeof(dir), "%s/data/hl7v2", shared && *shared ? shared : "../shared");
	snprintf(path, sizeof(path), "%s/MANIFEST.tsv", dir);
	if (!(manifest = fopen(path, "r"))) {
		print_message("SKIP: %s not found (the HL7 v2 samples of ../shared/data/hl7v2; set "
			      "LT_SHARED_DIR)\n", path);
		skip();
	}
	while (fgets(line, sizeof(line), manifest)) {
		char file[256];
		int want_msgs, want_segs, comments = 0;
		struct sample_stats st = { 0 };
		size_t n = 0;
		char *text;

		if (sscanf(line, "%255[^\t]\t%*d\t%d\t%*[^\t]\t%*[^\t]\t%d", file, &want_msgs, &want_segs) != 3)
			continue;	/* the heading */
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		text = td_slurp(path, &n);
		assert_non_null(text);
		n = strip_comments(text, n, &comments);
		comments += envelope_lines(text, n);
		st.file = file;
		assert_int_equal(hl7v2_split(text, n, parse_sample, &st), 0);
		free(text);
		if (comments)
			print_message("  %s: %d comment or batch envelope lines left out\n", file,
				      comments);
		if (st.messages != want_msgs || st.parsed != want_msgs ||
		    st.segments + comments != want_segs)
			print_message("  %s: %d messages (manifest %d), %d parsed, %d segments (manifest %d)\n",
				      file, st.messages, want_msgs, st.parsed, st.segments, want_segs);
		files++;
		messages += st.messages;
		parsed += st.parsed;
		acks += st.acks;
		assert_int_equal(st.messages, want_msgs);
		assert_int_equal(st.segments + comments, want_segs);
	}
	fclose(manifest);
	print_message("HL7 v2 samples: %d files, %d messages, %d parsed, %d ACKs answer their MSH-10\n",
		      files, messages, parsed, acks);
	assert_true(files >= 20);
	assert_int_equal(parsed, messages);
	assert_int_equal(acks, messages);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(structure),
		cmocka_unit_test(header),
		cmocka_unit_test(terminators),
		cmocka_unit_test(escapes),
		cmocka_unit_test(encoding_characters),
		cmocka_unit_test(charsets),
		cmocka_unit_test(refusals),
		cmocka_unit_test(refusals_inside),
		cmocka_unit_test(limits),
		cmocka_unit_test(linear_time),
		cmocka_unit_test(split),
		cmocka_unit_test(ack_accept),
		cmocka_unit_test(ack_error_v25),
		cmocka_unit_test(ack_error_v23),
		cmocka_unit_test(ack_delimiters),
		cmocka_unit_test(ack_unparsed),
		cmocka_unit_test(ack_buffer_limit),
		cmocka_unit_test(shared_samples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
