/*
 * ack.c — ACK messages: original mode (AA/AE/AR) and the accept
 * acknowledgment of enhanced mode (CA/CE/CR).
 *
 * The ACK uses the version and the encoding characters of the message it
 * answers (the standard ones when it had no escape character), is written
 * in UTF-8 (MSH-18 says so when a non-ASCII character is in it), and every
 * value is escaped again, so that it parses back to the same text.
 * Errors go where the version expects them: v2.1–2.4 put the text in MSA-3
 * and the location and code in ERR-1; v2.5+ use ERR-2 (location), ERR-3
 * (table 0357), ERR-4 (severity) and ERR-8 (the text).
 */
#include <stdio.h>
#include <string.h>
#include "../base/rand.h"
#include "../base/time.h"
#include "../base/utf8.h"
#include "hl7v2_int.h"

/* Only the MSH segment of an unparseable message is looked at, and at most
 * this much of it. */
#define ACK_MAX_RAW_MSH 65536

static const struct {
	int code;
	const char *text;
} hl7_error_codes[] = {	/* HL7 table 0357 */
	{ 0, "Message accepted" },
	{ 100, "Segment sequence error" },
	{ 101, "Required field missing" },
	{ 102, "Data type error" },
	{ 103, "Table value not found" },
	{ 104, "Value too long" },
	{ 200, "Unsupported message type" },
	{ 201, "Unsupported event code" },
	{ 202, "Unsupported processing id" },
	{ 203, "Unsupported version id" },
	{ 204, "Unknown key identifier" },
	{ 205, "Duplicate key identifier" },
	{ 206, "Application record locked" },
	{ 207, "Application internal error" },
};

static const char *const ack_codes[] = { "AA", "AE", "AR", "CA", "CE", "CR" };

struct writer {
	struct buf *out;
	struct hl7v2_enc enc;	/* of the ACK */
	int rc;			/* the first buffer failure */
};

static void w_bytes(struct writer *w, const char *p, size_t n)
{
	if (!w->rc && n)
		w->rc = buf_append(w->out, p, n);
}

static void w_str(struct writer *w, const char *s)
{
	w_bytes(w, s, strlen(s));
}

static void w_char(struct writer *w, char c)
{
	w_bytes(w, &c, 1);
}

static void w_escape(struct writer *w, char name)
{
	char seq[3] = { w->enc.esc, name, w->enc.esc };

	w_bytes(w, seq, 3);
}

/* Text as one value: every delimiter escaped, control characters as \Xhh\,
 * bytes that are not UTF-8 as '?'. */
static void put_text(struct writer *w, const char *text, size_t n)
{
	const struct hl7v2_enc *enc = &w->enc;
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;

	while (i < n) {
		size_t run = i;

		while (run < n && p[run] >= 0x20 && p[run] < 0x7F && p[run] != (unsigned char)enc->field &&
		       p[run] != (unsigned char)enc->comp && p[run] != (unsigned char)enc->rep &&
		       p[run] != (unsigned char)enc->esc && (!enc->sub || p[run] != (unsigned char)enc->sub) &&
		       (!enc->trunc || p[run] != (unsigned char)enc->trunc))
			run++;
		w_bytes(w, text + i, run - i);
		if ((i = run) == n)
			break;
		if (p[i] >= 0x80) {
			size_t len = utf8_seq_len(p + i, n - i);

			if (len)
				w_bytes(w, text + i, len);
			else
				w_char(w, '?');
			i += len ? len : 1;
			continue;
		}
		if (p[i] == (unsigned char)enc->field)
			w_escape(w, 'F');
		else if (p[i] == (unsigned char)enc->comp)
			w_escape(w, 'S');
		else if (p[i] == (unsigned char)enc->rep)
			w_escape(w, 'R');
		else if (p[i] == (unsigned char)enc->esc)
			w_escape(w, 'E');
		else if (enc->sub && p[i] == (unsigned char)enc->sub)
			w_escape(w, 'T');
		else if (enc->trunc && p[i] == (unsigned char)enc->trunc)
			w_escape(w, 'P');
		else {
			static const char hex[] = "0123456789ABCDEF";
			char x[6] = { w->enc.esc, 'X', hex[p[i] >> 4], hex[p[i] & 15], w->enc.esc, 0 };

			w_bytes(w, x, 5);
		}
		i++;
	}
}

/* A decoded element of m (a slice of its text), structure kept: its own
 * separators become the ACK's, everything else is text. */
static void put_element(struct writer *w, const struct hl7v2_msg *m, struct hl7v2_str v)
{
	size_t a, b, run;

	if (!v.p)
		return;
	a = (size_t)(v.p - m->text);
	b = a + v.n;
	for (run = a; a < b; a++) {
		char c = m->text[a], to;

		if (c == m->enc.comp)
			to = w->enc.comp;
		else if (c == m->enc.rep)
			to = w->enc.rep;
		else if (m->enc.sub && c == m->enc.sub)
			to = w->enc.sub;
		else
			continue;
		if (hl7v2_is_lit(m, a))
			continue;
		put_text(w, m->text + run, a - run);
		w_char(w, to);
		run = a + 1;
	}
	put_text(w, m->text + run, b - run);
}

static void put_field(struct writer *w, const struct hl7v2_msg *m, int f, int c)
{
	w_char(w, w->enc.field);
	if (m)
		put_element(w, m, hl7v2_get(m, 0, f, 0, c, 0));
}

/* The MSH segment of raw bytes that did not parse as a message, parsed on
 * its own: as it is, then with what is not UTF-8 made '?' and MSH-18 left
 * out. NULL when even that fails. */
static struct hl7v2_msg *parse_raw_msh(const char *raw, size_t n)
{
	struct hl7v2_msg *m = NULL;
	struct hl7v2_enc enc;
	struct buf copy;
	const char *why;
	size_t i = 0, end, fields = 0;
	int field;

	if (!raw)
		return NULL;
	if (n >= 3 && memcmp(raw, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i + 3 <= n && memcmp(raw + i, "MSH", 3) != 0) {	/* the first line starting with MSH */
		while (i < n && raw[i] != '\r' && raw[i] != '\n')
			i++;
		i++;
	}
	if (i + 3 > n)
		return NULL;
	for (end = i; end < n && end - i < ACK_MAX_RAW_MSH && raw[end] != '\r' && raw[end] != '\n'; end++)
		;
	if (hl7v2_parse(raw + i, end - i, NULL, &m, NULL, NULL) == 0)
		return m;
	if (hl7v2_enc_read(raw + i, end - i, &enc, &why, &field))
		return NULL;
	buf_init(&copy, 0);
	for (size_t j = i; j < end; j++) {
		const unsigned char *p = (const unsigned char *)raw + j;
		size_t len = *p >= 0x80 ? utf8_seq_len(p, end - j) : 1;

		if (*p == (unsigned char)enc.field && ++fields == 17)
			break;	/* MSH-18 and after */
		if (len == 0 || *p == 0) {
			if (buf_putc(&copy, '?'))
				break;
			continue;
		}
		if (buf_append(&copy, p, len))
			break;
		j += len - 1;
	}
	if (copy.p && hl7v2_parse(copy.p, copy.n, NULL, &m, NULL, NULL))
		m = NULL;
	buf_release(&copy);
	return m;
}

/* MSH-10 of raw bytes whose MSH-2 is not usable: the tenth piece between
 * the characters that follow "MSH", as text. */
static struct str raw_control_id(const char *raw, size_t n)
{
	struct str id = { NULL, 0 };
	size_t i = 0, piece = 1;
	char sep;

	if (!raw)
		return id;
	if (n >= 3 && memcmp(raw, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	if (n - i < 4 || memcmp(raw + i, "MSH", 3) != 0)
		return id;
	sep = raw[i + 3];
	if (sep == '\r' || sep == '\n')
		return id;
	for (i += 4; i < n && raw[i] != '\r' && raw[i] != '\n' && piece < 9; i++)
		if (raw[i] == sep)
			piece++;
	if (piece < 9)
		return id;
	id.p = raw + i;
	while (i < n && raw[i] != '\r' && raw[i] != '\n' && raw[i] != sep)
		i++;
	id.n = (size_t)(raw + i - id.p);
	return id;
}

/* "2.3.1" → 3; -1 when not 2.x */
static int version_minor(struct hl7v2_str v)
{
	int minor = 0;
	size_t k = 2;

	if (!v.p || v.n < 3 || v.p[0] != '2' || v.p[1] != '.' || v.p[2] < '0' || v.p[2] > '9')
		return -1;
	while (k < v.n && k < 6 && v.p[k] >= '0' && v.p[k] <= '9')
		minor = minor * 10 + (v.p[k++] - '0');
	return minor;
}

static const char *error_text(int code)
{
	for (size_t k = 0; k < sizeof(hl7_error_codes) / sizeof(hl7_error_codes[0]); k++)
		if (hl7_error_codes[k].code == code)
			return hl7_error_codes[k].text;
	return "Error";
}

/* A valid segment name for an error location, or NULL. */
static const char *where_segment(const struct hl7v2_where *at)
{
	if (!at || at->segment[0] < 'A' || at->segment[0] > 'Z')
		return NULL;
	for (int k = 1; k < 3; k++)
		if (!((at->segment[k] >= 'A' && at->segment[k] <= 'Z') ||
		      (at->segment[k] >= '0' && at->segment[k] <= '9')))
			return NULL;
	return at->segment[3] == '\0' ? at->segment : NULL;
}

static void w_number(struct writer *w, int v)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", v < 0 ? 0 : v);
	w_str(w, num);
}

/* v2.5+: ERR||location|code^text^HL70357|E||||text */
static void put_err_v25(struct writer *w, const struct hl7v2_where *at, int code, const char *text)
{
	const char *seg = where_segment(at);

	w_str(w, "ERR");
	w_char(w, w->enc.field);
	w_char(w, w->enc.field);
	if (seg) {
		w_str(w, seg);
		w_char(w, w->enc.comp);
		w_number(w, at->seq);
		if (at->field > 0) {
			w_char(w, w->enc.comp);
			w_number(w, at->field);
			if (at->component > 0) {
				w_char(w, w->enc.comp);
				w_char(w, w->enc.comp);
				w_number(w, at->component);
			}
		}
	}
	w_char(w, w->enc.field);
	w_number(w, code);
	w_char(w, w->enc.comp);
	put_text(w, error_text(code), strlen(error_text(code)));
	w_char(w, w->enc.comp);
	w_str(w, "HL70357");
	w_char(w, w->enc.field);
	w_char(w, 'E');
	if (text && *text) {
		for (int k = 0; k < 4; k++)
			w_char(w, w->enc.field);
		put_text(w, text, strlen(text));
	}
	w_char(w, '\r');
}

/* v2.1–2.4: ERR|segment^seq^field^code&text&HL70357 */
static void put_err_v21(struct writer *w, const struct hl7v2_where *at, int code)
{
	const char *seg = where_segment(at);

	w_str(w, "ERR");
	w_char(w, w->enc.field);
	if (seg) {
		w_str(w, seg);
		w_char(w, w->enc.comp);
		w_number(w, at->seq);
		w_char(w, w->enc.comp);
		if (at->field > 0)
			w_number(w, at->field);
	} else {
		w_char(w, w->enc.comp);
		w_char(w, w->enc.comp);
	}
	w_char(w, w->enc.comp);
	w_number(w, code);
	if (w->enc.sub) {
		w_char(w, w->enc.sub);
		put_text(w, error_text(code), strlen(error_text(code)));
		w_char(w, w->enc.sub);
		w_str(w, "HL70357");
	}
	w_char(w, '\r');
}

static void put_control_id(struct writer *w, const char *ack_id)
{
	char uuid[UUID_STR_LEN + 1], id[21];
	size_t k = 0;

	if (ack_id) {
		put_text(w, ack_id, strlen(ack_id));
		return;
	}
	if (rand_uuid(uuid) == 0) {
		for (const char *u = uuid; *u && k < sizeof(id) - 1; u++)
			if (*u != '-')
				id[k++] = *u;
	} else {
		k = (size_t)snprintf(id, sizeof(id), "%lld", (long long)time_now_ms());
	}
	id[k] = '\0';
	w_str(w, id);
}

/* MSH-7: now, as YYYYMMDDHHMMSS.SSS+0000 */
static void put_now(struct writer *w)
{
	char iso[TIME_INSTANT_LEN + 1], dtm[24];
	static const int from[] = { 0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 19, 20, 21, 22 };
	size_t k;

	time_format_instant(time_now_ms(), iso);
	for (k = 0; k < sizeof(from) / sizeof(from[0]); k++)
		dtm[k] = iso[from[k]];
	memcpy(dtm + k, "+0000", 6);
	put_text(w, dtm, strlen(dtm));	/* '.' or '+' may be a delimiter */
}

/* Whether the ACK can use the message's delimiters: it needs an escape
 * character, and MSH-18 must be able to say UNICODE UTF-8. */
static int usable_delimiters(const struct hl7v2_enc *enc)
{
	return enc->comp && enc->rep && enc->esc && enc->field != '-' && enc->comp != '-' &&
	       enc->rep != '-' && enc->esc != '-' && enc->sub != '-' && enc->trunc != '-';
}

int hl7v2_ack(const struct hl7v2_msg *m, const char *raw, size_t raw_n, enum hl7v2_ack_code code,
	      const struct hl7v2_where *at, const char *text, const char *ack_id, struct buf *out)
{
	static const struct hl7v2_enc standard = { '|', '^', '~', '\\', '&', 0 };
	struct hl7v2_msg *own = NULL;
	struct hl7v2_str version = { NULL, 0 };
	struct writer w;
	struct buf ack;
	size_t msh_end, start, k;
	int minor, error, err_code;
	const char *code_text = (unsigned)code < sizeof(ack_codes) / sizeof(ack_codes[0]) ? ack_codes[code]
											  : "AE";

	if (!m)
		m = own = parse_raw_msh(raw, raw_n);
	buf_init(&ack, 0);
	w.out = &ack;
	w.rc = 0;
	w.enc = m && usable_delimiters(&m->enc) ? m->enc : standard;
	if (m)
		version = hl7v2_get(m, 0, 12, 0, 1, 0);
	if (!version.p || !version.n)
		version = (struct hl7v2_str){ "2.5", 3 };
	minor = version_minor(version);
	error = code != HL7V2_AA && code != HL7V2_CA;
	err_code = at && at->code > 0 && at->code < 10000 ? at->code : 207;

	/* MSH: sender and receiver swapped */
	w_str(&w, "MSH");
	w_char(&w, w.enc.field);
	w_char(&w, w.enc.comp);
	w_char(&w, w.enc.rep);
	w_char(&w, w.enc.esc);
	if (w.enc.sub)
		w_char(&w, w.enc.sub);
	if (w.enc.sub && w.enc.trunc)
		w_char(&w, w.enc.trunc);
	put_field(&w, m, 5, 0);
	put_field(&w, m, 6, 0);
	put_field(&w, m, 3, 0);
	put_field(&w, m, 4, 0);
	w_char(&w, w.enc.field);
	put_now(&w);
	w_char(&w, w.enc.field);
	w_char(&w, w.enc.field);
	w_str(&w, "ACK");
	w_char(&w, w.enc.comp);
	if (m)
		put_element(&w, m, hl7v2_get(m, 0, 9, 0, 2, 0));
	w_char(&w, w.enc.comp);
	w_str(&w, "ACK");
	w_char(&w, w.enc.field);
	put_control_id(&w, ack_id);
	w_char(&w, w.enc.field);
	if (m && hl7v2_get(m, 0, 11, 0, 0, 0).n)
		put_element(&w, m, hl7v2_get(m, 0, 11, 0, 0, 0));
	else
		w_char(&w, 'P');
	w_char(&w, w.enc.field);
	put_text(&w, version.p, version.n);
	msh_end = ack.n;
	w_char(&w, '\r');

	/* MSA|code|their MSH-10[|text] */
	w_str(&w, "MSA");
	w_char(&w, w.enc.field);
	w_str(&w, code_text);
	w_char(&w, w.enc.field);
	if (m) {
		put_element(&w, m, hl7v2_get(m, 0, 10, 0, 0, 0));
	} else {
		struct str id = raw_control_id(raw, raw_n);

		put_text(&w, id.p, id.n);
	}
	if (minor >= 0 && minor < 5 && text && *text) {
		w_char(&w, w.enc.field);
		put_text(&w, text, strlen(text));
	}
	w_char(&w, '\r');

	if (error) {
		if (minor >= 0 && minor < 5)
			put_err_v21(&w, at, err_code);
		else
			put_err_v25(&w, at, err_code, text);
	}
	hl7v2_free(own);
	if (w.rc) {
		buf_release(&ack);
		return w.rc;
	}

	/* UTF-8 is said in MSH-18 when the ACK needs it. */
	start = out->n;
	for (k = 0; k < ack.n && (unsigned char)ack.p[k] < 0x80; k++)
		;
	if (k < ack.n) {
		char tail[] = "||||||UNICODE UTF-8";

		memset(tail, w.enc.field, 6);
		if (!(w.rc = buf_append(out, ack.p, msh_end)) && !(w.rc = buf_puts(out, tail)))
			w.rc = buf_append(out, ack.p + msh_end, ack.n - msh_end);
	} else {
		w.rc = buf_append(out, ack.p, ack.n);
	}
	if (w.rc && out->p) {
		out->n = start;
		out->p[start] = '\0';
	}
	buf_release(&ack);
	return w.rc;
}
