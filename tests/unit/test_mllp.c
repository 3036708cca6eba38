/* The MLLP transport over real sockets, with a handler that echoes: framing,
 * several messages per connection and pipelining, partial reads, oversize
 * frames, many connections at once, idle timeouts, and a stop that lets a
 * message in progress be answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>
#include "mllp/mllp.h"

#define MAX_MESSAGE 1024

/* Echoes "ACK:" + the message (or "TRUNC:<n>" for a cut frame); a message
 * "SLOW" takes 300 ms, as a long commit would. */
static void echo(void *arg, const char *msg, size_t n, int truncated, const char *peer,
		 struct buf *ack)
{
	(void)arg;
	(void)peer;
	if (n == 4 && !memcmp(msg, "SLOW", 4))
		usleep(300 * 1000);
	if (truncated)
		assert_int_equal(buf_printf(ack, "TRUNC:%zu", n), 0);
	else
		assert_int_equal(buf_puts(ack, "ACK:") || buf_append(ack, msg, n), 0);
}

static struct mllp_server *start(unsigned idle_s)
{
	struct mllp_config cfg = { .host = "127.0.0.1", .port = 0, .workers = 8,
				   .max_connections = 256, .idle_timeout_s = idle_s,
				   .max_message_bytes = MAX_MESSAGE };
	struct mllp_server *s = NULL;
	struct err e = { 0 };

	assert_int_equal(mllp_start(&cfg, echo, NULL, &s, &e), 0);
	return s;
}

static int dial(struct mllp_server *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)mllp_port(s)) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

static void send_frame(int fd, const char *msg)
{
	char b[4096];
	int n = snprintf(b, sizeof(b), "\x0b%s\x1c\r", msg);

	send_all(fd, b, (size_t)n);
}

/* Reads one framed answer into out (NUL-terminated); 0, or -1 at EOF. */
static int read_frame(int fd, char *out, size_t cap)
{
	static char pend[65536];
	static size_t npend;
	size_t start, len, used;

	for (;;) {
		ssize_t r;

		if (mllp_next_frame(pend, npend, &start, &len, &used)) {
			assert_true(len < cap);
			memcpy(out, pend + start, len);
			out[len] = '\0';
			memmove(pend, pend + used, npend - used);
			npend -= used;
			return 0;
		}
		r = read(fd, pend + npend, sizeof(pend) - npend);
		if (r <= 0) {
			npend = 0;
			return -1;
		}
		npend += (size_t)r;
	}
}

static void next_frame_cases(void **state)
{
	size_t start, len, used;

	(void)state;
	assert_int_equal(mllp_next_frame("\r\n\x0b" "A\x1c\r", 6, &start, &len, &used), 1);
	assert_int_equal(start, 3);
	assert_int_equal(len, 1);
	assert_int_equal(used, 6);
	/* The end block's CR not yet here: wait for it. */
	assert_int_equal(mllp_next_frame("\x0b" "A\x1c", 3, &start, &len, &used), 0);
	assert_int_equal(used, 0);
	/* A missing CR is forgiven when something else follows. */
	assert_int_equal(mllp_next_frame("\x0b" "A\x1c\x0b", 4, &start, &len, &used), 1);
	assert_int_equal(used, 3);
	/* A frame cut short by a new start block is dropped. */
	assert_int_equal(mllp_next_frame("\x0b" "AB\x0b" "C\x1c\r", 7, &start, &len, &used), 1);
	assert_int_equal(start, 4);
	assert_int_equal(len, 1);
	/* Noise only. */
	assert_int_equal(mllp_next_frame("xyz", 3, &start, &len, &used), 0);
	assert_int_equal(used, 3);
}

static void pipelined_and_partial(void **state)
{
	struct mllp_server *s = start(30);
	int fd = dial(s);
	char out[4096];
	const char *two = "\x0b" "MSH|one\x1c\r\r\n\x0b" "MSH|two\x1c\r";

	(void)state;
	send_all(fd, two, strlen(two));
	assert_int_equal(read_frame(fd, out, sizeof(out)), 0);
	assert_string_equal(out, "ACK:MSH|one");
	assert_int_equal(read_frame(fd, out, sizeof(out)), 0);
	assert_string_equal(out, "ACK:MSH|two");
	/* One byte at a time. */
	for (const char *p = "\x0b" "MSH|three\x1c\r"; *p; p++) {
		send_all(fd, p, 1);
		usleep(1000);
	}
	assert_int_equal(read_frame(fd, out, sizeof(out)), 0);
	assert_string_equal(out, "ACK:MSH|three");
	close(fd);
	mllp_stop(s);
}

static void oversize_frame_is_cut_and_the_connection_goes_on(void **state)
{
	struct mllp_server *s = start(30);
	int fd = dial(s);
	char out[4096], *big = malloc(5 * MAX_MESSAGE + 3);

	(void)state;
	assert_non_null(big);
	big[0] = 0x0b;
	memset(big + 1, 'x', 5 * MAX_MESSAGE);
	memcpy(big + 1 + 5 * MAX_MESSAGE, "\x1c\r", 2);
	send_all(fd, big, 5 * MAX_MESSAGE + 3);
	assert_int_equal(read_frame(fd, out, sizeof(out)), 0);
	assert_string_equal(out, "TRUNC:1024");
	send_frame(fd, "MSH|after");
	assert_int_equal(read_frame(fd, out, sizeof(out)), 0);
	assert_string_equal(out, "ACK:MSH|after");
	/* The same arriving slowly: cut once past the limit, the rest dropped
	 * as it comes. */
	for (size_t off = 0; off < 5 * MAX_MESSAGE + 3; off += 700) {
		size_t k = 5 * MAX_MESSAGE + 3 - off < 700 ? 5 * MAX_MESSAGE + 3 - off : 700;

		send_all(fd, big + off, k);
		usleep(5000);
	}
	assert_int_equal(read_frame(fd, out, sizeof(out)), 0);
	assert_string_equal(out, "TRUNC:1024");
	send_frame(fd, "MSH|after2");
	assert_int_equal(read_frame(fd, out, sizeof(out)), 0);
	assert_string_equal(out, "ACK:MSH|after2");
	free(big);
	close(fd);
	mllp_stop(s);
}

#define CONNS 64
#define PER_CONN 20

static void *client(void *arg)
{
	struct mllp_server *s = arg;
	int fd = dial(s);
	char msg[64], want[80], out[256];
	long bad = 0;

	for (int i = 0; i < PER_CONN; i++) {
		char frame[96];
		int n;

		snprintf(msg, sizeof(msg), "MSH|%d|%p", i, (void *)&fd);
		snprintf(want, sizeof(want), "ACK:%s", msg);
		n = snprintf(frame, sizeof(frame), "\x0b%s\x1c\r", msg);
		if (write(fd, frame, (size_t)n) != n)
			bad++;
		/* read_frame keeps state in statics: read by hand here. */
		{
			size_t got = 0, start, len, used;

			for (;;) {
				ssize_t r = read(fd, out + got, sizeof(out) - 1 - got);

				if (r <= 0) {
					bad++;
					break;
				}
				got += (size_t)r;
				if (mllp_next_frame(out, got, &start, &len, &used)) {
					out[start + len] = '\0';
					if (strcmp(out + start, want))
						bad++;
					break;
				}
			}
		}
	}
	close(fd);
	return (void *)bad;
}

static void many_connections_at_once(void **state)
{
	struct mllp_server *s = start(30);
	pthread_t th[CONNS];
	long bad = 0;

	(void)state;
	for (int i = 0; i < CONNS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, client, s), 0);
	for (int i = 0; i < CONNS; i++) {
		void *r;

		pthread_join(th[i], &r);
		bad += (long)r;
	}
	assert_int_equal(bad, 0);
	mllp_stop(s);
}

static void idle_connection_is_closed(void **state)
{
	struct mllp_server *s = start(1);
	int fd = dial(s);
	char b[16];

	(void)state;
	send_all(fd, "\x0b" "MSH|half", 9);	/* a frame that never ends */
	assert_int_equal(read(fd, b, sizeof(b)), 0);	/* closed within the timeout */
	close(fd);
	mllp_stop(s);
}

/* A client that drips a frame a byte at a time is never silent for
 * idle_timeout; its frame must still arrive whole within it. */
static void dripped_frame_is_cut_off(void **state)
{
	struct mllp_server *s = start(1);
	int fd = dial(s), closed = 0;
	const char *msg = "\x0b" "MSH|^~\\&|LIS|dripping|for|ever";
	char b[16];

	(void)state;
	for (size_t i = 0; i < strlen(msg) && !closed; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (send(fd, msg + i, 1, MSG_NOSIGNAL) != 1 || (poll(&p, 1, 250) == 1 && read(fd, b, sizeof(b)) <= 0))
			closed = (int)i;
	}
	assert_true(closed > 0);	/* within about 2 s of its first byte: 8 bytes */
	assert_true(closed <= 12);
	close(fd);
	mllp_stop(s);
}

struct stopper {
	struct mllp_server *s;
};

static void *stop_soon(void *arg)
{
	usleep(100 * 1000);
	mllp_stop(arg);
	return NULL;
}

static void stop_answers_what_is_in_progress(void **state)
{
	struct mllp_server *s = start(30);
	int fd = dial(s);
	char out[256];
	pthread_t th;

	(void)state;
	send_frame(fd, "SLOW");
	assert_int_equal(pthread_create(&th, NULL, stop_soon, s), 0);
	assert_int_equal(read_frame(fd, out, sizeof(out)), 0);
	assert_string_equal(out, "ACK:SLOW");
	assert_int_equal(read_frame(fd, out, sizeof(out)), -1);	/* then closed */
	pthread_join(th, NULL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(next_frame_cases),
		cmocka_unit_test(pipelined_and_partial),
		cmocka_unit_test(oversize_frame_is_cut_and_the_connection_goes_on),
		cmocka_unit_test(many_connections_at_once),
		cmocka_unit_test(idle_connection_is_closed),
		cmocka_unit_test(dripped_frame_is_cut_off),
		cmocka_unit_test(stop_answers_what_is_in_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
