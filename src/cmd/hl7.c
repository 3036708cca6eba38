/*
 * hl7.c — `lienthong hl7 send|messages|replay`: HL7 v2 tools for operators.
 *
 *   send FILE... --to HOST:PORT   sends every message of the files over MLLP
 *                                 (a file may hold several, or a batch), one
 *                                 at a time, and prints each ACK
 *   messages [filters]            lists the message log of the store in --data
 *   replay [filters]              processes logged messages again (after a
 *                                 mapping fix): conditional writes make it
 *                                 safe to repeat; the log entry is updated
 */
#include "cmd.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "../api/api.h"
#include "../base/time.h"
#include "../hl7v2/hl7v2.h"
#include "../mllp/mllp.h"
#include "../store/store.h"

#define SEND_TIMEOUT_S 60
#define MAYBE_ACK_MS 5000		/* MSH-15 ER or SU: an ACK comes only sometimes */

/* ---- send ------------------------------------------------------------------ */

struct sender {
	int fd;
	char *pend;			/* bytes read past the last answer */
	size_t npend, cap;
	int sent, accepted, refused, unanswered;
	const char *file;
};

static int dial(const char *to)
{
	char host[256];
	const char *colon = strrchr(to, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
	size_t hn;
	int fd = -1, rc;

	if (!colon || colon == to || (hn = (size_t)(colon - to)) >= sizeof(host)) {
		fprintf(stderr, "lienthong: hl7 send: --to must be HOST:PORT, not '%s'\n", to);
		return -1;
	}
	memcpy(host, to[0] == '[' ? to + 1 : to, to[0] == '[' ? hn - 2 : hn);
	host[to[0] == '[' ? hn - 2 : hn] = '\0';
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai))) {
		fprintf(stderr, "lienthong: hl7 send: %s: %s\n", to, gai_strerror(rc));
		return -1;
	}
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		fprintf(stderr, "lienthong: hl7 send: cannot connect to %s: %s\n", to, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* MSA-1 of an ACK ("AA", "CE", ...), read with our parser; "--" when it has none. */
static void ack_code(const char *p, size_t n, char out[3])
{
	struct hl7v2_msg *m = NULL;
	struct err e = { 0 };
	long i;

	snprintf(out, 3, "--");
	if (hl7v2_parse(p, n, NULL, &m, &e, NULL))
		return;
	if ((i = hl7v2_find(m, "MSA", 0)) >= 0) {
		struct hl7v2_str c = hl7v2_get(m, (size_t)i, 1, 0, 1, 0);

		if (c.p && c.n == 2)
			snprintf(out, 3, "%.2s", c.p);
	}
	hl7v2_free(m);
}

/* Prints an ACK one segment a line, and counts it by MSA-1. */
static void print_ack(struct sender *s, const char *p, size_t n)
{
	char code[3];

	ack_code(p, n, code);
	if (code[1] == 'A' && (code[0] == 'A' || code[0] == 'C'))
		s->accepted++;
	else
		s->refused++;
	for (size_t i = 0; i < n; i++)
		putchar(p[i] == '\r' ? '\n' : p[i]);
	if (n && p[n - 1] != '\r' && p[n - 1] != '\n')
		putchar('\n');
	putchar('\n');
}

/* What MSH-15 (enhanced mode's accept acknowledgment) asks: 'N' never
 * (NE), 'M' maybe (ER: on errors, SU: on success), 'A' always. */
static char ack_expected(const char *p, size_t n)
{
	struct hl7v2_msg *m = NULL;
	struct hl7v2_header h;
	struct err e = { 0 };
	char want = 'A';

	if (hl7v2_parse(p, n, NULL, &m, &e, NULL))
		return 'A';
	hl7v2_header(m, &h);
	if (h.accept_ack.p && h.accept_ack.n == 2)
		want = !memcmp(h.accept_ack.p, "NE", 2) ? 'N'
		     : !memcmp(h.accept_ack.p, "ER", 2) || !memcmp(h.accept_ack.p, "SU", 2) ? 'M' : 'A';
	hl7v2_free(m);
	return want;
}

static int send_one(void *arg, const char *p, size_t n)
{
	struct sender *s = arg;
	char want = ack_expected(p, n);
	char head = MLLP_SB, tail[2] = { MLLP_EB, MLLP_CR };
	struct part {
		const void *b;
		size_t n;
	} parts[3] = { { &head, 1 }, { p, n }, { tail, 2 } };

	for (int k = 0; k < 3; k++)
		for (size_t off = 0; off < parts[k].n;) {
			ssize_t w = send(s->fd, (const char *)parts[k].b + off, parts[k].n - off, MSG_NOSIGNAL);

			if (w <= 0) {
				fprintf(stderr, "lienthong: hl7 send: %s: message %d: %s\n", s->file,
					s->sent + 1, strerror(errno));
				return -1;
			}
			off += (size_t)w;
		}
	s->sent++;
	for (;;) {
		size_t start, len, used;
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		ssize_t r;

		if (mllp_next_frame(s->pend ? s->pend : "", s->npend, &start, &len, &used)) {
			print_ack(s, s->pend + start, len);
			memmove(s->pend, s->pend + used, s->npend - used);
			s->npend -= used;
			return 0;
		}
		if (s->npend == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 65536;
			char *q = realloc(s->pend, cap);

			if (!q)
				return -1;
			s->pend = q;
			s->cap = cap;
		}
		if (want != 'A' && poll(&pfd, 1, want == 'N' ? 0 : MAYBE_ACK_MS) == 0) {
			printf("(no ACK: MSH-15 is %s)\n\n", want == 'N' ? "NE" : "ER or SU");
			s->unanswered++;
			return 0;
		}
		r = recv(s->fd, s->pend + s->npend, s->cap - s->npend, 0);
		if (r <= 0) {
			fprintf(stderr, "lienthong: hl7 send: %s: message %d: no ACK (%s)\n", s->file,
				s->sent, r == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		s->npend += (size_t)r;
	}
}

static char *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)len + 1)) && fread(p, 1, (size_t)len, f) == (size_t)len) {
		p[len] = '\0';
		*n = (size_t)len;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static int hl7_send(int argc, char **argv)
{
	const char *to = NULL;
	struct sender s = { .fd = -1 };
	int rc = 0, nfiles = 0;

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--to") && i + 1 < argc)
			to = argv[++i];
		else if (!strncmp(argv[i], "--to=", 5))
			to = argv[i] + 5;
		else
			nfiles++;
	if (!to || !nfiles) {
		fprintf(stderr, "usage: lienthong hl7 send FILE... --to HOST:PORT\n");
		return 2;
	}
	if ((s.fd = dial(to)) < 0)
		return 1;
	for (int i = 0; i < argc && !rc; i++) {
		size_t n = 0;
		char *text;

		if (!strcmp(argv[i], "--to")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--to=", 5))
			continue;
		if (!(text = read_file(argv[i], &n))) {
			fprintf(stderr, "lienthong: hl7 send: cannot read %s: %s\n", argv[i], strerror(errno));
			rc = 1;
			break;
		}
		s.file = argv[i];
		if (hl7v2_split(text, n, send_one, &s))
			rc = 1;
		free(text);
	}
	close(s.fd);
	free(s.pend);
	fprintf(stderr, "hl7 send: %d sent, %d accepted, %d refused, %d not acknowledged as MSH-15 "
		"asked\n", s.sent, s.accepted, s.refused, s.unanswered);
	return rc ? rc : s.refused ? 1 : 0;
}

/* ---- messages and replay: the message log ---------------------------------- */

struct log_args {
	struct store_message_query q;
	int raw;
	int all;
	char **rest;			/* the shared settings (--data, --config) */
	int nrest;
};

static int log_args(int argc, char **argv, struct log_args *a)
{
	a->q.tenant = STORE_DEFAULT_TENANT;
	a->q.channel = "hl7v2";
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--raw")) {
			a->raw = 1;
		} else if (!strcmp(o, "--all")) {
			a->all = 1;
		} else if (v && !strcmp(o, "--control-id")) {
			a->q.control_id = v;
			i++;
		} else if (v && !strcmp(o, "--sender")) {
			a->q.sender = v;
			i++;
		} else if (v && !strcmp(o, "--patient")) {
			a->q.patient = v;
			i++;
		} else if (v && !strcmp(o, "--status")) {
			a->q.status = v;
			i++;
		} else if (v && (!strcmp(o, "--since") || !strcmp(o, "--until"))) {
			if (config_parse_time("hl7", o, v, o[2] == 'u', o[2] == 'u' ? &a->q.until_ms : &a->q.since_ms))
				return 2;
			i++;
		} else if (v && !strcmp(o, "--limit")) {
			a->q.limit = atoi(v);
			if (a->q.limit < 1) {
				fprintf(stderr, "lienthong: hl7: --limit takes a positive number\n");
				return 2;
			}
			i++;
		} else if (!strncmp(o, "--", 2)) {
			a->rest[a->nrest++] = argv[i];
			if (!strchr(o, '=') && v)
				a->rest[a->nrest++] = argv[++i];
		} else {
			fprintf(stderr, "lienthong: hl7: unexpected '%s'\n", o);
			return 2;
		}
	}
	return 0;
}

static int open_store(struct log_args *a, struct config *cfg, struct store **st, struct api **api)
{
	struct store_config sc;
	struct api_config ac;
	struct err e = { 0 };

	if (config_load(cfg, a->nrest, a->rest))
		return 2;
	config_store(cfg, &sc);
	config_api(cfg, &ac);
	if (store_open(&sc, st, &e) || (api && api_new(&ac, *st, api, &e))) {
		fprintf(stderr, "lienthong: %s\n", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
		return 1;
	}
	return 0;
}

static int print_entry(void *arg, const struct store_message *m)
{
	const struct log_args *a = arg;
	char when[TIME_INSTANT_LEN + 1];

	time_format_instant(m->received_ms, when);
	printf("%s  %-3s  %-24s  %-20s  %-24s  %s%s%s\n", when, m->status, m->sender, m->control_id,
	       m->patient[0] ? m->patient : "-", m->resources, m->note[0] ? "  " : "", m->note);
	if (a->raw) {
		for (size_t i = 0; i < m->raw_len; i++)
			putchar(m->raw[i] == '\r' ? '\n' : m->raw[i]);
		putchar('\n');
	}
	return 0;
}

static int hl7_messages(int argc, char **argv)
{
	struct log_args a = { .rest = calloc((size_t)argc + 1, sizeof(char *)) };
	struct config cfg;
	struct store *st = NULL;
	struct err e = { 0 };
	int rc;

	if (!a.rest)
		return 1;
	a.rest[a.nrest++] = argv[0];
	if (!(rc = log_args(argc, argv, &a)) && !(rc = open_store(&a, &cfg, &st, NULL))) {
		printf("%-24s  %-3s  %-24s  %-20s  %-24s  %s\n", "received", "ack", "sender",
		       "control id", "patient", "resources");
		if (store_messages(st, &a.q, print_entry, &a, &e)) {
			fprintf(stderr, "lienthong: %s\n", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
			rc = 1;
		}
		store_close(st);
		config_release(&cfg);
	}
	free(a.rest);
	return rc;
}

struct replay_item {
	int64_t mid, received_ms;
	char *raw;
	size_t raw_len;
	char old[4];
};

struct replay_list {
	struct replay_item *it;
	size_t n, cap;
	int oom;
};

static int collect(void *arg, const struct store_message *m)
{
	struct replay_list *l = arg;
	struct replay_item *it;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct replay_item *p = realloc(l->it, cap * sizeof(*p));

		if (!p)
			return l->oom = 1;
		l->it = p;
		l->cap = cap;
	}
	it = &l->it[l->n];
	if (!(it->raw = malloc(m->raw_len + 1)))
		return l->oom = 1;
	memcpy(it->raw, m->raw, m->raw_len);
	it->raw_len = m->raw_len;
	it->mid = m->mid;
	it->received_ms = m->received_ms;
	snprintf(it->old, sizeof(it->old), "%s", m->status);
	l->n++;
	return 0;
}

static int hl7_replay(int argc, char **argv)
{
	struct log_args a = { .rest = calloc((size_t)argc + 1, sizeof(char *)) };
	struct replay_list l = { 0 };
	struct config cfg;
	struct store *st = NULL;
	struct api *api = NULL;
	struct err e = { 0 };
	struct buf ack;
	int rc, refused = 0;

	if (!a.rest)
		return 1;
	a.rest[a.nrest++] = argv[0];
	buf_init(&ack, 0);
	if ((rc = log_args(argc, argv, &a)))
		goto out;
	if (!a.all && !a.q.control_id && !a.q.sender && !a.q.patient && !a.q.status && !a.q.since_ms &&
	    !a.q.until_ms) {
		fprintf(stderr, "lienthong: hl7 replay: say which messages (--control-id, --sender, "
			"--patient, --status, --since, --until) or --all\n");
		rc = 2;
		goto out;
	}
	if (!a.q.limit)
		a.q.limit = 1000000;
	if ((rc = open_store(&a, &cfg, &st, &api)))
		goto out;
	if (store_messages(st, &a.q, collect, &l, &e) || l.oom) {
		fprintf(stderr, "lienthong: %s\n", l.oom ? "out of memory"
			: e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
		rc = 1;
	}
	for (size_t k = l.n; !rc && k-- > 0;) {	/* oldest first, as they came */
		struct replay_item *it = &l.it[k];
		struct api_hl7v2_message m = { .raw = it->raw, .raw_len = it->raw_len, .peer = "replay",
					       .received_ms = it->received_ms, .replay_mid = it->mid };
		char code[3];
		int accepted;

		buf_clear(&ack);
		accepted = api_hl7v2(api, &m, &ack);
		ack_code(ack.p ? ack.p : "", ack.n, code);
		printf("message %lld: %s -> %s%s\n", (long long)it->mid, it->old, code,
		       accepted ? "" : " (not accepted)");
		if (!accepted)
			refused++;
	}
	fprintf(stderr, "hl7 replay: %zu messages, %d not accepted\n", l.n, refused);
	if (!rc && refused)
		rc = 1;
	api_free(api);
	store_close(st);
	config_release(&cfg);
out:
	for (size_t k = 0; k < l.n; k++)
		free(l.it[k].raw);
	free(l.it);
	buf_release(&ack);
	free(a.rest);
	return rc;
}

int cmd_hl7(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "send"))
		return hl7_send(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "messages"))
		return hl7_messages(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "replay"))
		return hl7_replay(argc - 1, argv + 1);
	fprintf(stderr, "usage: lienthong hl7 send FILE... --to HOST:PORT\n"
		"       lienthong hl7 messages [--data DIR] [--control-id ID] [--sender APP^FAC]\n"
		"                 [--patient Patient/ID] [--status AA|AE|AR] [--since T] [--until T]\n"
		"                 [--limit N] [--raw]\n"
		"       lienthong hl7 replay [--data DIR] (filters as above | --all)\n");
	return 2;
}
