/*
 * mllp.h — the MLLP transport for HL7 v2 (issue #5): transport only, no
 * HL7 logic.
 *
 * A frame is 0x0B, the message, 0x1C 0x0D. One epoll thread accepts,
 * reads, cuts frames and writes answers; complete messages go to a pool of
 * worker threads, which call the handler and wait in it for the store's
 * group commit, so that messages on many connections share an fsync.
 * A connection carries one message at a time, in order: the next frame is
 * taken only once the previous answer is written (a sender that pipelines
 * is served in order). Bytes outside frames (a stray CR/LF) are skipped.
 *
 * mllp_start/mllp_stop on one thread (main). Stopping closes the listening
 * socket, lets every message already handed to a worker finish and its
 * answer be written, then closes the connections.
 */
#ifndef LT_MLLP_MLLP_H
#define LT_MLLP_MLLP_H

#include <stddef.h>
#include "../base/buf.h"
#include "../base/err.h"

#define MLLP_SB 0x0b			/* start block */
#define MLLP_EB 0x1c			/* end block, followed by a carriage return */
#define MLLP_CR 0x0d

struct mllp_config {
	const char *host;		/* "127.0.0.1", "0.0.0.0", "::" ... */
	int port;			/* 0: any free port */
	int workers;			/* threads that run the handler */
	unsigned max_connections;	/* more are accepted and closed at once */
	unsigned idle_timeout_s;	/* a connection silent this long (or stalled mid-frame) is closed */
	size_t max_message_bytes;	/* a longer frame is cut: the handler sees its start, truncated */
};

/*
 * Called on a worker thread for each message: msg (n bytes, without the
 * framing) from peer ("1.2.3.4:5678"). truncated: the frame was longer than
 * max_message_bytes and msg holds only its start. The handler appends the
 * answer (an ACK, unframed) to ack; an empty ack sends nothing. It returns
 * only once what the ACK acknowledges is durable.
 */
typedef void (*mllp_handler_fn)(void *arg, const char *msg, size_t n, int truncated,
				const char *peer, struct buf *ack);

struct mllp_server;

int mllp_start(const struct mllp_config *cfg, mllp_handler_fn fn, void *arg,
	       struct mllp_server **out, struct err *e) LT_MUST_CHECK;
int mllp_port(const struct mllp_server *s);	/* the port bound (useful with port 0) */
void mllp_stop(struct mllp_server *s);

/* Frames of a byte stream, for the server and for clients (`lienthong hl7
 * send`): finds the next complete frame in p[0..n). Returns 1 and sets
 * *start and *len (the message) and *used (bytes consumed, framing included);
 * 0 when more bytes are needed, with *used the bytes that can be dropped
 * (noise before a start block). */
int mllp_next_frame(const char *p, size_t n, size_t *start, size_t *len, size_t *used);

#endif
