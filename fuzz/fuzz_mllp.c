/*
 * fuzz_mllp.c — MLLP framing (src/mllp/mllp.c: mllp_next_frame), the code
 * that cuts a socket's byte stream into HL7 messages.
 *
 * Input: any bytes, as they might arrive on a connection. The first byte
 * picks a chunk size; the rest is the stream.
 * Oracles, besides the sanitizers:
 *   - every frame found lies inside the bytes, starts right after a start
 *     block, ends right before an end block, holds no start block, and
 *     consumes at least what it spans; "need more" keeps the bytes from a
 *     start block on (a frame cut short by a later start block is dropped);
 *   - the stream read whole and the stream read in chunks of any size (as
 *     the server reads a socket, keeping what is not yet a frame) give the
 *     same frames.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_util.h"
#include "mllp/mllp.h"

#define FZ_MAX_FRAMES 4096

struct frames {
	size_t n;
	size_t len[FZ_MAX_FRAMES];
	uint64_t sum[FZ_MAX_FRAMES];	/* a cheap fingerprint of each frame's bytes */
};

static uint64_t fingerprint(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

/* Takes every frame out of buf[0..*n), as take_frame() does; keeps the rest. */
static void drain(char *buf, size_t *n, struct frames *f)
{
	for (;;) {
		size_t start = 0, len = 0, used = 0;
		int found = mllp_next_frame(buf, *n, &start, &len, &used);

		if (used > *n)
			fz_fail("consumed more than there is", buf, *n);
		if (found) {
			if (start < 1 || start + len >= used || buf[start - 1] != MLLP_SB ||
			    buf[start + len] != MLLP_EB || memchr(buf + start, MLLP_SB, len))
				fz_fail("a frame that is not one", buf, *n);
			if (f->n < FZ_MAX_FRAMES) {
				f->len[f->n] = len;
				f->sum[f->n] = fingerprint(buf + start, len);
			}
			f->n++;
		} else if (used < *n && buf[used] != MLLP_SB) {
			fz_fail("kept bytes that do not begin a frame", buf, *n);
		}
		memmove(buf, buf + used, *n - used);
		*n -= used;
		if (!found)
			return;
	}
}

static int fuzz_mllp_one(const uint8_t *data, size_t size)
{
	static struct frames whole, chunked;
	size_t chunk, n = 0;
	char *buf;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	whole.n = chunked.n = 0;
	memcpy(buf, data, size);
	n = size;
	drain(buf, &n, &whole);
	n = 0;
	for (size_t off = 0; off < size; off += chunk) {
		size_t k = size - off < chunk ? size - off : chunk;

		memcpy(buf + n, data + off, k);
		n += k;
		drain(buf, &n, &chunked);
	}
	if (whole.n != chunked.n)
		fz_fail("whole and chunked reads found different numbers of frames", (const char *)data, size);
	for (size_t i = 0; i < whole.n && i < FZ_MAX_FRAMES; i++)
		if (whole.len[i] != chunked.len[i] || whole.sum[i] != chunked.sum[i])
			fz_fail("whole and chunked reads found different frames", (const char *)data, size);
	free(buf);
	return 0;
}

#ifndef FZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_mllp_one(data, size);
}
#endif
