/*
 * hl7v2_bench.c — how long hl7v2_parse (and the ACK after it) takes per
 * message, in CPU time on one core: every message of the files given (batches and
 * multi-message files are split), each parsed ROUNDS times.
 *
 *   build/hl7v2_bench ../shared/data/hl7v2/ms-ORU-R01-01.hl7 [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/buf.h"
#include "hl7v2/hl7v2.h"

struct bench {
	long rounds;
	long messages;
	size_t bytes;
	double parse_s, ack_s;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);	/* CPU time: the machine is shared */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_one(void *arg, const char *p, size_t n)
{
	struct bench *b = arg;
	struct hl7v2_msg *m = NULL;
	struct hl7v2_header h;
	struct buf ack;
	double t0;
	struct err e = { 0 };

	if (hl7v2_parse(p, n, NULL, &m, &e, NULL)) {
		fprintf(stderr, "hl7v2_bench: a message does not parse: %s\n", e.issue[0].diagnostics);
		return 0;
	}
	hl7v2_free(m);
	t0 = now_s();
	for (long r = 0; r < b->rounds; r++) {
		if (hl7v2_parse(p, n, NULL, &m, NULL, NULL))
			return 1;
		hl7v2_header(m, &h);
		hl7v2_free(m);
	}
	b->parse_s += now_s() - t0;
	buf_init(&ack, 0);
	t0 = now_s();
	for (long r = 0; r < b->rounds; r++) {
		if (hl7v2_parse(p, n, NULL, &m, NULL, NULL))
			return 1;
		buf_clear(&ack);
		if (hl7v2_ack(m, NULL, 0, HL7V2_AA, NULL, NULL, "BENCH", &ack))
			return 1;
		hl7v2_free(m);
	}
	b->ack_s += now_s() - t0;
	buf_release(&ack);
	b->messages++;
	b->bytes += n;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	int files = 0;

	b.rounds = 20000;
	for (int i = 1; i < argc; i++)	/* ROUNDS first: it applies to every file */
		if (strspn(argv[i], "0123456789") == strlen(argv[i]))
			b.rounds = atol(argv[i]);
	for (int i = 1; i < argc; i++) {
		FILE *f;
		char *text;
		long len;

		if (strspn(argv[i], "0123456789") == strlen(argv[i]))
			continue;
		if (!(f = fopen(argv[i], "rb")) || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) || !(text = malloc((size_t)len + 1)) ||
		    fread(text, 1, (size_t)len, f) != (size_t)len) {
			fprintf(stderr, "hl7v2_bench: cannot read %s\n", argv[i]);
			return 1;
		}
		fclose(f);
		if (hl7v2_split(text, (size_t)len, bench_one, &b))
			return 1;
		free(text);
		files++;
	}
	if (!files || !b.messages) {
		fprintf(stderr, "usage: hl7v2_bench FILE... [ROUNDS]\n");
		return 2;
	}
	printf("%ld messages, %.0f bytes on average, %ld rounds each\n", b.messages,
	       (double)b.bytes / (double)b.messages, b.rounds);
	printf("parse + header:  %.2f us per message (%.0f MB/s)\n",
	       b.parse_s * 1e6 / (double)(b.messages * b.rounds),
	       (double)b.bytes * (double)b.rounds / b.parse_s / 1e6);
	printf("parse + ACK:     %.2f us per message\n", b.ack_s * 1e6 / (double)(b.messages * b.rounds));
	return 0;
}
