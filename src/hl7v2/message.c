/*
 * message.c — ER7 text (HL7 v2.1–2.8) into one decoded buffer and an index
 * of segments and fields (see hl7v2_int.h for the layout), and the accessors.
 *
 * One pass over the input, no recursion, memory linear in the input (the
 * text at most three times the input for single-byte character sets, four
 * bytes of index per field). Decisions: docs/decisions/0012-hl7v2-parser.md.
 */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/utf8.h"
#include "hl7v2_int.h"

#define HL7V2_DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define HL7V2_DEFAULT_MAX_SEGMENTS ((size_t)100000)
/* Offsets are 32-bit and the text may be three times the input. */
#define HL7V2_HARD_MAX_BYTES ((size_t)1 << 30)

/* ---- character sets (MSH-18, HL7 table 0211) ------------------------------ */

enum cs_kind {
	CS_UTF8,	/* UTF-8 or its subset ASCII: validated, copied */
	CS_LATIN1,	/* ISO 8859-1: converted by hand */
	CS_TABLE	/* another single-byte set: a table built with iconv */
};

static const struct charset {
	const char *name;	/* as MSH-18 spells it */
	enum cs_kind kind;
	const char *iconv;	/* glibc's name, for CS_TABLE */
} charsets[] = {
	{ "ASCII", CS_UTF8, NULL },
	{ "ISO IR6", CS_UTF8, NULL },
	{ "UNICODE UTF-8", CS_UTF8, NULL },
	{ "UTF-8", CS_UTF8, NULL },
	{ "UNICODE", CS_UTF8, NULL },
	{ "8859/1", CS_LATIN1, NULL },
	{ "ISO IR100", CS_LATIN1, NULL },
	{ "8859/2", CS_TABLE, "ISO-8859-2" },
	{ "ISO IR101", CS_TABLE, "ISO-8859-2" },
	{ "8859/3", CS_TABLE, "ISO-8859-3" },
	{ "ISO IR109", CS_TABLE, "ISO-8859-3" },
	{ "8859/4", CS_TABLE, "ISO-8859-4" },
	{ "ISO IR110", CS_TABLE, "ISO-8859-4" },
	{ "8859/5", CS_TABLE, "ISO-8859-5" },
	{ "ISO IR144", CS_TABLE, "ISO-8859-5" },
	{ "8859/6", CS_TABLE, "ISO-8859-6" },
	{ "ISO IR127", CS_TABLE, "ISO-8859-6" },
	{ "8859/7", CS_TABLE, "ISO-8859-7" },
	{ "ISO IR126", CS_TABLE, "ISO-8859-7" },
	{ "8859/8", CS_TABLE, "ISO-8859-8" },
	{ "ISO IR138", CS_TABLE, "ISO-8859-8" },
	{ "8859/9", CS_TABLE, "ISO-8859-9" },
	{ "ISO IR148", CS_TABLE, "ISO-8859-9" },
	{ "8859/15", CS_TABLE, "ISO-8859-15" },
};

/* Bytes 0x80-0xFF of a single-byte set in UTF-8 (len 0: not a character). */
struct cs_map {
	unsigned char len[128];
	unsigned char utf8[128][3];
};

static int cs_map_build(const char *name, struct cs_map *map)
{
	iconv_t cd = iconv_open("UTF-8", name);

	if (cd == (iconv_t)-1)
		return -1;
	for (int c = 0x80; c <= 0xFF; c++) {
		char in = (char)c, out[4], *ip = &in, *op = out;
		size_t in_left = 1, out_left = sizeof(out);

		iconv(cd, NULL, NULL, NULL, NULL);
		if (iconv(cd, &ip, &in_left, &op, &out_left) == (size_t)-1 || out_left < 1) {
			map->len[c - 0x80] = 0;
			continue;
		}
		map->len[c - 0x80] = (unsigned char)(sizeof(out) - out_left);
		memcpy(map->utf8[c - 0x80], out, map->len[c - 0x80]);
	}
	iconv_close(cd);
	return 0;
}

/* ---- the encoding characters ------------------------------------------------ */

static int is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A delimiter is printable ASCII and not a letter, digit or space. */
static int is_delim(unsigned char c)
{
	return c > 0x20 && c < 0x7F && !is_alnum(c);
}

int hl7v2_enc_read(const char *p, size_t n, struct hl7v2_enc *enc, const char **why, int *field)
{
	char *slot[5] = { &enc->comp, &enc->rep, &enc->esc, &enc->sub, &enc->trunc };
	size_t k;

	memset(enc, 0, sizeof(*enc));
	*field = 1;
	if (n < 4 || p[3] == '\r' || p[3] == '\n') {
		*why = "MSH-1 (the field separator) is missing";
		return -1;
	}
	if (!is_delim((unsigned char)p[3])) {
		*why = "MSH-1 (the field separator) must be a printable character, not a letter, digit or space";
		return -1;
	}
	enc->field = p[3];
	*field = 2;
	for (k = 0; 4 + k < n && p[4 + k] != enc->field && p[4 + k] != '\r' && p[4 + k] != '\n'; k++) {
		unsigned char c = (unsigned char)p[4 + k];

		if (k == 5) {
			*why = "MSH-2 (the encoding characters) has more than 5 characters";
			return -1;
		}
		if (!is_delim(c)) {
			*why = "MSH-2 (the encoding characters) may hold only printable characters that are not letters, digits or spaces";
			return -1;
		}
		for (size_t j = 0; j < k; j++)
			if (*slot[j] == (char)c) {
				*why = "MSH-2 (the encoding characters) uses a character twice";
				return -1;
			}
		*slot[k] = (char)c;
	}
	if (k == 0) {
		*why = "MSH-2 (the encoding characters) is empty";
		return -1;
	}
	return 0;
}

/* ---- the parser --------------------------------------------------------------- */

/* What a raw byte is to the main loop. */
enum {
	C_PLAIN,	/* copied */
	C_SEP,		/* component, repetition or subcomponent separator: copied */
	C_EOL,		/* CR or LF: ends the segment */
	C_FIELD,	/* the field separator */
	C_ESC,		/* the escape character */
	C_HIGH,		/* 0x80-0xFF: the character set decides */
	C_NUL		/* refused */
};

struct parser {
	const unsigned char *p;
	size_t n, i;		/* the input and where we are in it */
	struct hl7v2_msg *m;
	size_t cap;		/* bytes of m->text (an upper bound, never exceeded) */
	size_t segs_cap, fields_cap, max_segments;
	unsigned char cls[256];
	enum cs_kind cs;
	const struct charset *charset;
	struct cs_map map;
	int field;		/* the field being read, for errors */
	struct err *e;
	struct hl7v2_where *at;
};

static void where_set(struct hl7v2_where *at, const char *seg, size_t seq, int field, int code)
{
	if (!at)
		return;
	memset(at, 0, sizeof(*at));
	if (seg)
		memcpy(at->segment, seg, 3);
	at->seq = seq > 1000000 ? 1000000 : (int)seq;
	at->field = field;
	at->code = code;
}

/* An error inside the current segment (the last one pushed). */
static int parse_fail(struct parser *ps, int rc, int code, const char *fmt, const char *detail)
{
	const struct hl7v2_seg *s = ps->m->nsegs ? &ps->m->segs[ps->m->nsegs - 1] : NULL;

	where_set(ps->at, s ? s->name : NULL, ps->m->nsegs, ps->field, code);
	if (s)
		err_set(ps->e, rc, NULL, "segment %zu (%s), field %d: %s%s", ps->m->nsegs, s->name,
			ps->field, fmt, detail ? detail : "");
	else
		err_set(ps->e, rc, NULL, "%s%s", fmt, detail ? detail : "");
	return rc;
}

static void lit_mark(struct parser *ps, size_t o)
{
	ps->m->lit[o >> 3] |= (unsigned char)(1u << (o & 7));
}

static int lit_need(struct parser *ps)
{
	if (!ps->m->lit && !(ps->m->lit = calloc(ps->cap / 8 + 1, 1)))
		return parse_fail(ps, ERR_NOMEM, 207, "out of memory", NULL);
	return 0;
}

/* A byte that an escape sequence produced: never a separator. */
static int put_lit(struct parser *ps, char c)
{
	if (ps->cls[(unsigned char)c] == C_SEP) {
		if (lit_need(ps))
			return ERR_NOMEM;
		lit_mark(ps, ps->m->n);
	}
	ps->m->text[ps->m->n++] = c;
	return 0;
}

/* One byte >= 0x80 at ps->i (and the rest of its UTF-8 sequence), converted. */
static int put_high(struct parser *ps)
{
	struct hl7v2_msg *m = ps->m;
	unsigned c = ps->p[ps->i];
	char hex[48];

	switch (ps->cs) {
	case CS_UTF8: {
		size_t len = utf8_seq_len(ps->p + ps->i, ps->n - ps->i);

		if (len == 0) {
			snprintf(hex, sizeof(hex), "0x%02X at byte %zu", c, ps->i);
			return parse_fail(ps, ERR_INVALID, 102,
					  "the text is not valid UTF-8 (declare the character set in MSH-18): ",
					  hex);
		}
		memcpy(m->text + m->n, ps->p + ps->i, len);
		m->n += len;
		ps->i += len;
		return 0;
	}
	case CS_LATIN1:
		m->text[m->n++] = (char)(0xC0 | (c >> 6));
		m->text[m->n++] = (char)(0x80 | (c & 0x3F));
		ps->i++;
		return 0;
	case CS_TABLE:
		if (ps->map.len[c - 0x80] == 0) {
			snprintf(hex, sizeof(hex), "byte 0x%02X is not a character of %s", c,
				 ps->charset->name);
			return parse_fail(ps, ERR_INVALID, 102, "", hex);
		}
		memcpy(m->text + m->n, ps->map.utf8[c - 0x80], ps->map.len[c - 0x80]);
		m->n += ps->map.len[c - 0x80];
		ps->i++;
		return 0;
	}
	return 0;
}

/* The raw bytes [ps->i, to), which hold no CR, LF, field separator or
 * escape character (the content of an escape sequence kept as it came). */
static int put_plain(struct parser *ps, size_t to)
{
	while (ps->i < to) {
		unsigned char c = ps->p[ps->i];
		int rc;

		if (c == 0)
			return parse_fail(ps, ERR_INVALID, 102, "a NUL byte", NULL);
		if (c >= 0x80) {
			if ((rc = put_high(ps)))
				return rc;
			continue;
		}
		ps->m->text[ps->m->n++] = (char)c;
		ps->i++;
	}
	return 0;
}

/* \Xhhhh\: the bytes, in the message's character set. 0, or -1 when they
 * are not text (odd or bad digits, NUL, not UTF-8): then the caller keeps
 * the sequence as it came. */
static int put_hex(struct parser *ps, const unsigned char *h, size_t len)
{
	struct hl7v2_msg *m = ps->m;
	size_t start = m->n, o;

	if (len == 0 || len % 2)
		return -1;
	for (size_t k = 0; k < len; k++)
		if (str_hex_digit((char)h[k]) < 0)
			return -1;
	for (size_t k = 0; k < len; k += 2) {
		unsigned c = (unsigned)(str_hex_digit((char)h[k]) << 4 | str_hex_digit((char)h[k + 1]));

		if (c == 0 || (c >= 0x80 && ps->cs == CS_TABLE && ps->map.len[c - 0x80] == 0))
			goto undo;
		if (c < 0x80 || ps->cs == CS_UTF8) {
			m->text[m->n++] = (char)c;
		} else if (ps->cs == CS_LATIN1) {
			m->text[m->n++] = (char)(0xC0 | (c >> 6));
			m->text[m->n++] = (char)(0x80 | (c & 0x3F));
		} else {
			memcpy(m->text + m->n, ps->map.utf8[c - 0x80], ps->map.len[c - 0x80]);
			m->n += ps->map.len[c - 0x80];
		}
	}
	for (o = start; o < m->n;) {
		size_t l = utf8_seq_len((const unsigned char *)m->text + o, m->n - o);

		if (l == 0)
			goto undo;
		o += l;
	}
	for (o = start; o < m->n; o++)
		if (ps->cls[(unsigned char)m->text[o]] == C_SEP) {
			if (lit_need(ps))
				return ERR_NOMEM;
			lit_mark(ps, o);
		}
	return 0;
undo:
	m->n = start;
	return -1;
}

/* Formatting commands (\.br\ and friends, for FT and TX): what they become
 * in plain text, or NULL when c is not one. */
static const char *format_command(const unsigned char *c, size_t len)
{
	static const struct {
		char name[3];
		int takes_number;
		const char *text;
	} cmds[] = {
		{ "br", 0, "\n" }, { "sp", 1, "\n" }, { "ce", 0, "\n" }, { "fi", 0, "" },
		{ "nf", 0, "" },   { "in", 1, "" },   { "ti", 1, "" },   { "sk", 1, " " },
	};

	if (len < 3 || c[0] != '.')
		return NULL;
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		size_t j = 3, digits = 0;

		if (c[1] != cmds[k].name[0] || c[2] != cmds[k].name[1])
			continue;
		if (len == 3)
			return cmds[k].text;
		if (!cmds[k].takes_number)
			return NULL;
		while (j < len && c[j] == ' ')
			j++;
		if (j < len && (c[j] == '+' || c[j] == '-'))
			j++;
		while (j < len && c[j] >= '0' && c[j] <= '9' && digits < 6)
			j++, digits++;
		return j == len && digits ? cmds[k].text : NULL;
	}
	return NULL;
}

/* At ps->i, the escape character. */
static int put_escape(struct parser *ps)
{
	const struct hl7v2_enc *enc = &ps->m->enc;
	const unsigned char *p = ps->p, *c;
	size_t j = ps->i + 1, len;
	const char *fmt;
	int rc;

	/* The sequence ends at the next escape character; a separator or the
	 * end of the segment first means it was a lone escape character. */
	while (j < ps->n && ps->cls[p[j]] != C_ESC && ps->cls[p[j]] != C_SEP &&
	       ps->cls[p[j]] != C_FIELD && ps->cls[p[j]] != C_EOL)
		j++;
	if (j == ps->n || ps->cls[p[j]] != C_ESC) {
		ps->m->text[ps->m->n++] = enc->esc;
		ps->i++;
		return 0;
	}
	c = p + ps->i + 1;
	len = j - ps->i - 1;
	if (len == 1 && (c[0] == 'H' || c[0] == 'N')) {	/* highlighting on/off */
		ps->i = j + 1;
		return 0;
	}
	if (len == 1) {
		char out = c[0] == 'F' ? enc->field : c[0] == 'S' ? enc->comp : c[0] == 'T' ? enc->sub
			 : c[0] == 'R' ? enc->rep : c[0] == 'E' ? enc->esc : c[0] == 'P' ? enc->trunc : 0;

		if (out) {
			ps->i = j + 1;
			return put_lit(ps, out);
		}
	} else if (c[0] == 'X') {
		if ((rc = put_hex(ps, c + 1, len - 1)) >= 0) {
			ps->i = j + 1;
			return rc;
		}
	} else if ((fmt = format_command(c, len)) != NULL) {
		while (*fmt)
			ps->m->text[ps->m->n++] = *fmt++;
		ps->i = j + 1;
		return 0;
	}
	/* Unknown (\Zxx\, \Cxxyy\, ...): kept as it came. */
	ps->m->text[ps->m->n++] = enc->esc;
	ps->i++;
	if ((rc = put_plain(ps, j)))
		return rc;
	ps->m->text[ps->m->n++] = enc->esc;
	ps->i = j + 1;
	return 0;
}

static int push_field(struct parser *ps)
{
	struct hl7v2_msg *m = ps->m;

	if (m->nfields == ps->fields_cap) {
		size_t cap = ps->fields_cap * 2;
		uint32_t *f = realloc(m->fields, cap * sizeof(*f));

		if (!f)
			return parse_fail(ps, ERR_NOMEM, 207, "out of memory", NULL);
		m->fields = f;
		ps->fields_cap = cap;
	}
	m->fields[m->nfields++] = (uint32_t)m->n;
	m->segs[m->nsegs - 1].nfields++;
	ps->field++;
	return 0;
}

static int is_segment_name(const unsigned char *p, size_t left, char field)
{
	if (left < 3 || p[0] < 'A' || p[0] > 'Z')
		return 0;
	for (int k = 1; k < 3; k++)
		if (!((p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= '0' && p[k] <= '9')))
			return 0;
	return left == 3 || p[3] == (unsigned char)field || p[3] == '\r' || p[3] == '\n';
}

static int push_segment(struct parser *ps)
{
	struct hl7v2_msg *m = ps->m;
	const unsigned char *p = ps->p + ps->i;
	struct hl7v2_seg *s;
	char quoted[16];

	if (m->nsegs == ps->max_segments) {
		where_set(ps->at, NULL, m->nsegs + 1, 0, 100);
		return err_set(ps->e, ERR_TOO_LARGE, NULL, "the message has more than %zu segments",
			       ps->max_segments);
	}
	if (!is_segment_name(p, ps->n - ps->i, m->enc.field)) {
		size_t k;

		for (k = 0; k < 8 && ps->i + k < ps->n && p[k] != '\r' && p[k] != '\n'; k++)
			quoted[k] = p[k] >= 0x20 && p[k] < 0x7F ? (char)p[k] : '?';
		quoted[k] = '\0';
		where_set(ps->at, NULL, m->nsegs + 1, 0, 100);
		return err_set(ps->e, ERR_INVALID, NULL,
			       "segment %zu does not start with a segment name (3 capital letters or "
			       "digits, then the field separator): \"%s\"",
			       m->nsegs + 1, quoted);
	}
	if (m->nsegs == ps->segs_cap) {
		size_t cap = ps->segs_cap * 2;
		struct hl7v2_seg *segs = realloc(m->segs, cap * sizeof(*segs));

		if (!segs)
			return parse_fail(ps, ERR_NOMEM, 207, "out of memory", NULL);
		m->segs = segs;
		ps->segs_cap = cap;
	}
	if (m->nsegs)
		m->text[m->n++] = '\r';
	s = &m->segs[m->nsegs++];
	memcpy(s->name, p, 3);
	s->name[3] = '\0';
	s->start = (uint32_t)m->n;
	s->first = (uint32_t)m->nfields;
	s->nfields = 0;
	memcpy(m->text + m->n, p, 3);
	m->n += 3;
	ps->i += 3;
	ps->field = 0;
	return 0;
}

/* MSH-1 and MSH-2, copied as they are: MSH-2 is not escaped text. */
static int put_msh_header(struct parser *ps)
{
	struct hl7v2_msg *m = ps->m;
	int rc;

	m->text[m->n++] = m->enc.field;
	ps->i++;
	ps->field = 1;
	if ((rc = push_field(ps)) || (rc = lit_need(ps)))
		return rc;
	while (ps->i < ps->n && ps->p[ps->i] != (unsigned char)m->enc.field && ps->p[ps->i] != '\r' &&
	       ps->p[ps->i] != '\n') {
		lit_mark(ps, m->n);
		m->text[m->n++] = (char)ps->p[ps->i++];
	}
	return 0;
}

/* MSH-18 read from the raw MSH segment (before any conversion): its first
 * repetition, without surrounding spaces. */
static struct str raw_charset(const unsigned char *p, size_t n, const struct hl7v2_enc *enc)
{
	size_t i = 4, piece = 1;
	struct str s = { NULL, 0 };

	while (i < n && p[i] != '\r' && p[i] != '\n' && piece < 17) {
		if (p[i] == (unsigned char)enc->field)
			piece++;
		i++;
	}
	if (piece < 17)
		return s;
	s.p = (const char *)p + i;
	while (i < n && p[i] != '\r' && p[i] != '\n' && p[i] != (unsigned char)enc->field &&
	       (!enc->rep || p[i] != (unsigned char)enc->rep))
		i++;
	s.n = (size_t)((const char *)p + i - s.p);
	while (s.n && s.p[0] == ' ')
		s.p++, s.n--;
	while (s.n && s.p[s.n - 1] == ' ')
		s.n--;
	return s;
}

static int choose_charset(struct parser *ps)
{
	struct str name = raw_charset(ps->p + ps->i, ps->n - ps->i, &ps->m->enc);
	char quoted[40];

	ps->cs = CS_UTF8;
	ps->charset = NULL;
	if (name.n == 0)
		return 0;
	for (size_t k = 0; k < sizeof(charsets) / sizeof(charsets[0]); k++)
		if (str_ieq(name, charsets[k].name)) {
			ps->charset = &charsets[k];
			ps->cs = charsets[k].kind;
			break;
		}
	if (ps->charset && ps->cs == CS_TABLE && cs_map_build(ps->charset->iconv, &ps->map))
		ps->charset = NULL;
	if (!ps->charset) {
		size_t k;

		for (k = 0; k < name.n && k < sizeof(quoted) - 1; k++)
			quoted[k] = name.p[k] >= 0x20 && name.p[k] < 0x7F ? name.p[k] : '?';
		quoted[k] = '\0';
		where_set(ps->at, "MSH", 1, 18, 103);
		return err_set(ps->e, ERR_NOT_SUPPORTED, NULL,
			       "MSH-18: character set \"%s\" is not supported (UNICODE UTF-8, ASCII "
			       "and 8859/1 to 8859/9, 8859/15 are)",
			       quoted);
	}
	return 0;
}

static void classify(struct parser *ps)
{
	const struct hl7v2_enc *enc = &ps->m->enc;

	memset(ps->cls, C_PLAIN, 128);
	memset(ps->cls + 128, C_HIGH, 128);
	ps->cls[0] = C_NUL;
	ps->cls['\r'] = ps->cls['\n'] = C_EOL;
	if (enc->comp)
		ps->cls[(unsigned char)enc->comp] = C_SEP;
	if (enc->rep)
		ps->cls[(unsigned char)enc->rep] = C_SEP;
	if (enc->sub)
		ps->cls[(unsigned char)enc->sub] = C_SEP;
	if (enc->esc)
		ps->cls[(unsigned char)enc->esc] = C_ESC;
	ps->cls[(unsigned char)enc->field] = C_FIELD;
}

/* The rest of the current segment, up to its end of line. */
static int parse_fields(struct parser *ps)
{
	struct hl7v2_msg *m = ps->m;
	int rc;

	while (ps->i < ps->n) {
		unsigned char c = ps->p[ps->i];

		switch (ps->cls[c]) {
		case C_PLAIN:
		case C_SEP: {
			size_t j = ps->i + 1;

			while (j < ps->n && ps->cls[ps->p[j]] <= C_SEP)
				j++;
			memcpy(m->text + m->n, ps->p + ps->i, j - ps->i);
			m->n += j - ps->i;
			ps->i = j;
			break;
		}
		case C_EOL:
			return 0;
		case C_FIELD:
			m->text[m->n++] = (char)c;
			ps->i++;
			if ((rc = push_field(ps)))
				return rc;
			break;
		case C_ESC:
			if ((rc = put_escape(ps)))
				return rc;
			break;
		case C_HIGH:
			if ((rc = put_high(ps)))
				return rc;
			break;
		default:
			return parse_fail(ps, ERR_INVALID, 102, "a NUL byte", NULL);
		}
	}
	return 0;
}

/* Skips CR, LF and lines of nothing but spaces and tabs; 1 at the end. */
static int skip_blank_lines(struct parser *ps)
{
	while (ps->i < ps->n) {
		size_t j = ps->i;

		while (j < ps->n && (ps->p[j] == ' ' || ps->p[j] == '\t'))
			j++;
		if (j < ps->n && ps->p[j] != '\r' && ps->p[j] != '\n')
			return 0;
		ps->i = j < ps->n ? j + 1 : j;
	}
	return 1;
}

static int check_start(const unsigned char *p, size_t n, struct err *e, struct hl7v2_where *at)
{
	char name[4] = "";

	if (n >= 3 && is_segment_name(p, n, (char)(n > 3 ? p[3] : '|')))
		memcpy(name, p, 3);
	if (n >= 3 && memcmp(p, "MSH", 3) == 0)
		return 0;
	where_set(at, name[0] ? name : NULL, 1, 0, 100);
	if (strcmp(name, "FHS") == 0 || strcmp(name, "BHS") == 0)
		return err_set(e, ERR_INVALID, NULL,
			       "this is a batch (it starts with %s): split it into messages first", name);
	if (n == 0)
		return err_set(e, ERR_INVALID, NULL, "the message is empty");
	return err_set(e, ERR_INVALID, NULL, "an HL7 v2 message starts with MSH%s%s%s",
		       name[0] ? ", not " : "", name, name[0] ? "" : " (these bytes do not)");
}

int hl7v2_parse(const char *text, size_t n, const struct hl7v2_limits *lim, struct hl7v2_msg **out,
		struct err *e, struct hl7v2_where *at)
{
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : HL7V2_DEFAULT_MAX_BYTES;
	struct parser ps;
	struct hl7v2_msg *m = NULL;
	const char *why;
	int rc, field;

	*out = NULL;
	if (max_bytes > HL7V2_HARD_MAX_BYTES)
		max_bytes = HL7V2_HARD_MAX_BYTES;
	if (n > max_bytes) {
		where_set(at, NULL, 0, 0, 207);
		return err_set(e, ERR_TOO_LARGE, NULL, "the message has %zu bytes; at most %zu are accepted",
			       n, max_bytes);
	}
	memset(&ps, 0, sizeof(ps));
	ps.p = (const unsigned char *)text;
	ps.n = n;
	ps.e = e;
	ps.at = at;
	ps.max_segments = lim && lim->max_segments ? lim->max_segments : HL7V2_DEFAULT_MAX_SEGMENTS;
	if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		ps.i = 3;
	if ((rc = check_start(ps.p + ps.i, n - ps.i, e, at)))
		return rc;
	if (!(m = calloc(1, sizeof(*m))))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	ps.m = m;
	if (hl7v2_enc_read(text + ps.i, n - ps.i, &m->enc, &why, &field)) {
		where_set(at, "MSH", 1, field, 102);
		rc = err_set(e, ERR_INVALID, NULL, "%s", why);
		goto out;
	}
	if ((rc = choose_charset(&ps)))
		goto out;
	classify(&ps);
	ps.cap = (n - ps.i) * (ps.cs == CS_UTF8 ? 1 : ps.cs == CS_LATIN1 ? 2 : 3) + 1;
	ps.segs_cap = 32;
	ps.fields_cap = 512;
	m->text = malloc(ps.cap);
	m->segs = malloc(ps.segs_cap * sizeof(*m->segs));
	m->fields = malloc(ps.fields_cap * sizeof(*m->fields));
	if (!m->text || !m->segs || !m->fields) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	while (!skip_blank_lines(&ps)) {
		if ((rc = push_segment(&ps)))
			goto out;
		if (m->nsegs == 1)
			rc = put_msh_header(&ps);
		else if (memcmp(m->segs[m->nsegs - 1].name, "MSH", 3) == 0)
			rc = parse_fail(&ps, ERR_INVALID, 100,
					"a second MSH: one message at a time (split a file or batch "
					"into messages first)", NULL);
		if (rc || (rc = parse_fields(&ps)))
			goto out;
		m->segs[m->nsegs - 1].end = (uint32_t)m->n;
	}
	m->text[m->n] = '\0';
	*out = m;
	m = NULL;
out:
	hl7v2_free(m);
	return rc;
}

void hl7v2_free(struct hl7v2_msg *m)
{
	if (!m)
		return;
	free(m->text);
	free(m->lit);
	free(m->segs);
	free(m->fields);
	free(m);
}

/* ---- batches -------------------------------------------------------------------- */

/* Whether the line at p starts with the segment name, e.g. "MSH|". */
static int line_is(const char *p, size_t left, const char *name)
{
	return left >= 3 && memcmp(p, name, 3) == 0 &&
	       (left == 3 || !is_alnum((unsigned char)p[3]));
}

static int line_ends_message(const char *p, size_t left)
{
	return line_is(p, left, "MSH") || line_is(p, left, "FHS") || line_is(p, left, "BHS") ||
	       line_is(p, left, "BTS") || line_is(p, left, "FTS");
}

int hl7v2_split(const char *p, size_t n, hl7v2_each_fn fn, void *arg)
{
	size_t i = 0, start = 0;
	int in_message = 0, rc;

	if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < n) {
		if (line_ends_message(p + i, n - i)) {
			if (in_message && (rc = fn(arg, p + start, i - start)))
				return rc;
			in_message = line_is(p + i, n - i, "MSH");
			start = i;
		}
		while (i < n && p[i] != '\r' && p[i] != '\n')
			i++;
		i++;	/* past the end of line (or the end: the loop stops) */
	}
	return in_message ? fn(arg, p + start, n - start) : 0;
}

/* ---- accessors ------------------------------------------------------------------ */

size_t hl7v2_segments(const struct hl7v2_msg *m)
{
	return m ? m->nsegs : 0;
}

const char *hl7v2_segment_name(const struct hl7v2_msg *m, size_t i)
{
	return m && i < m->nsegs ? m->segs[i].name : NULL;
}

long hl7v2_find(const struct hl7v2_msg *m, const char *name, size_t from)
{
	if (!m || !name)
		return -1;
	for (size_t i = from; i < m->nsegs; i++)
		if (strncmp(m->segs[i].name, name, 4) == 0)
			return (long)i;
	return -1;
}

/* Field f of segment i as [*a, *b) in the text; 1 when it is MSH-1 or
 * MSH-2 (one value, not split), 0 otherwise, -1 when absent. */
static int field_range(const struct hl7v2_msg *m, size_t i, int f, size_t *a, size_t *b)
{
	const struct hl7v2_seg *s;
	int msh, piece;

	if (!m || i >= m->nsegs || f < 1)
		return -1;
	s = &m->segs[i];
	msh = i == 0;	/* the parser allows MSH only as the first segment */
	if (msh && f == 1) {
		*a = s->start + 3;
		*b = *a + 1;
		return 1;
	}
	piece = msh ? f - 1 : f;
	if ((uint32_t)piece > s->nfields)
		return -1;
	*a = m->fields[s->first + (uint32_t)piece - 1];
	*b = (uint32_t)piece < s->nfields ? m->fields[s->first + (uint32_t)piece] - 1 : s->end;
	return msh && f == 2;
}

/* Narrows [*a, *b) to its k-th piece (0-based) between separators sep;
 * -1 when there are not that many. */
static int nth_piece(const struct hl7v2_msg *m, size_t *a, size_t *b, char sep, int k)
{
	size_t start = *a;

	if (k < 0)
		return -1;
	if (!sep)
		return k == 0 ? 0 : -1;
	for (size_t j = *a; j < *b; j++) {
		if (m->text[j] != sep || hl7v2_is_lit(m, j))
			continue;
		if (k == 0) {
			*a = start;
			*b = j;
			return 0;
		}
		k--;
		start = j + 1;
	}
	if (k)
		return -1;
	*a = start;
	return 0;
}

int hl7v2_reps(const struct hl7v2_msg *m, size_t i, int f)
{
	size_t a, b;
	int kind = field_range(m, i, f, &a, &b), reps = 1;

	if (kind < 0 || a == b)
		return 0;
	if (kind == 1 || !m->enc.rep)
		return 1;
	for (size_t j = a; j < b; j++)
		if (m->text[j] == m->enc.rep && !hl7v2_is_lit(m, j) && reps < 0x7fffffff)
			reps++;
	return reps;
}

struct hl7v2_str hl7v2_get(const struct hl7v2_msg *m, size_t i, int f, int r, int c, int s)
{
	struct hl7v2_str none = { NULL, 0 }, out;
	size_t a, b;
	int kind = field_range(m, i, f, &a, &b);

	if (kind < 0 || r < 0 || c < 0 || s < 0)
		return none;
	if (kind == 1) {
		if (r > 0 || c > 1 || (c == 1 && s > 1))
			return none;
	} else {
		if (nth_piece(m, &a, &b, m->enc.rep, r))
			return none;
		if (c > 0 && nth_piece(m, &a, &b, m->enc.comp, c - 1))
			return none;
		if (c > 0 && s > 0 && nth_piece(m, &a, &b, m->enc.sub, s - 1))
			return none;
	}
	out.p = m->text + a;
	out.n = b - a;
	return out;
}

void hl7v2_header(const struct hl7v2_msg *m, struct hl7v2_header *h)
{
	long msh = hl7v2_find(m, "MSH", 0);

	memset(h, 0, sizeof(*h));
	if (msh != 0)
		return;
	h->sending_app = hl7v2_get(m, 0, 3, 0, 1, 0);
	h->sending_facility = hl7v2_get(m, 0, 4, 0, 1, 0);
	h->receiving_app = hl7v2_get(m, 0, 5, 0, 1, 0);
	h->receiving_facility = hl7v2_get(m, 0, 6, 0, 1, 0);
	h->message_code = hl7v2_get(m, 0, 9, 0, 1, 0);
	h->trigger = hl7v2_get(m, 0, 9, 0, 2, 0);
	h->structure = hl7v2_get(m, 0, 9, 0, 3, 0);
	h->control_id = hl7v2_get(m, 0, 10, 0, 0, 0);
	h->processing_id = hl7v2_get(m, 0, 11, 0, 1, 0);
	h->version = hl7v2_get(m, 0, 12, 0, 1, 0);
	h->accept_ack = hl7v2_get(m, 0, 15, 0, 0, 0);
	h->app_ack = hl7v2_get(m, 0, 16, 0, 0, 0);
	h->charset = hl7v2_get(m, 0, 18, 0, 0, 0);
}
