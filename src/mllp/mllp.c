/*
 * mllp.c — the MLLP listener: one epoll thread for sockets, a worker pool
 * for messages (see mllp.h).
 *
 * A connection is in one of three states: READ (gathering a frame), BUSY
 * (its message is with a worker) and WRITE (its answer is being sent).
 * Workers hand finished connections back through a list and an eventfd;
 * only the epoll thread touches sockets and connection buffers, so nothing
 * but the two queues needs a lock.
 */
#include "mllp.h"

#include <errno.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../base/log.h"
#include "../base/time.h"

#define READ_CHUNK 65536
#define STOP_GRACE_MS 30000		/* how long stopping waits for messages in progress */
#define FRAME_LIMIT_S 60		/* most seconds a frame may take to arrive (less if idle_timeout is) */

enum conn_state { C_READ, C_BUSY, C_WRITE };

struct conn {
	int fd;
	char peer[64];
	enum conn_state state;
	struct buf in;			/* bytes read and not yet taken as a frame */
	int discarding;			/* dropping the rest of an oversize frame */
	int peer_closed;		/* EOF or error seen; closed when not BUSY */
	int64_t last_ms;		/* last byte moved */
	int64_t frame_since_ms;		/* since when bytes of an unfinished frame wait; 0: none */
	uint32_t events;		/* what epoll watches now */
	/* The message with a worker, and its answer. */
	struct buf msg;
	int truncated;
	struct buf ack;			/* the handler's answer */
	struct buf out;			/* the answer framed, being written */
	size_t out_off;			/* bytes of it written */
	struct conn *prev, *next;	/* every connection */
	struct conn *qnext;		/* job or done queue */
};

struct mllp_server {
	struct mllp_config cfg;
	mllp_handler_fn fn;
	void *arg;
	int lfd, ep, efd, port;
	pthread_t io;
	pthread_t *workers;
	int n_workers;
	struct conn *conns;
	unsigned n_conns;
	/* Queues between the epoll thread and the workers. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct conn *jobs, *jobs_tail;	/* for workers */
	struct conn *done;		/* back to the epoll thread */
	int stopping;			/* set by mllp_stop */
	int workers_exit;
};

/* ---- frames ---------------------------------------------------------------- */

int mllp_next_frame(const char *p, size_t n, size_t *start, size_t *len, size_t *used)
{
	const char *sb = memchr(p, MLLP_SB, n), *eb, *again;

	if (!sb) {
		*used = n;		/* noise: no frame begins here */
		return 0;
	}
	for (;;) {
		size_t rest = n - (size_t)(sb + 1 - p);

		eb = memchr(sb + 1, MLLP_EB, rest);
		again = memchr(sb + 1, MLLP_SB, eb ? (size_t)(eb - sb - 1) : rest);
		if (!again)
			break;
		sb = again;		/* a frame cut short by a new start: drop it */
	}
	if (!eb || eb + 1 == p + n) {	/* no end yet, or the end block's CR may follow */
		*used = (size_t)(sb - p);
		return 0;
	}
	*start = (size_t)(sb + 1 - p);
	*len = (size_t)(eb - sb - 1);
	*used = (size_t)(eb + 1 - p) + (eb[1] == MLLP_CR);	/* a missing CR is forgiven */
	return 1;
}

/* ---- connections (epoll thread) -------------------------------------------- */

static void watch(struct mllp_server *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events != events && !epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev))
		c->events = events;
}

static void conn_free(struct mllp_server *s, struct conn *c)
{
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	buf_release(&c->in);
	buf_release(&c->msg);
	buf_release(&c->ack);
	buf_release(&c->out);
	free(c);
}

static void submit(struct mllp_server *s, struct conn *c)
{
	c->state = C_BUSY;
	c->qnext = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->jobs_tail)
		s->jobs_tail->qnext = c;
	else
		s->jobs = c;
	s->jobs_tail = c;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void drop_front(struct buf *b, size_t k)
{
	if (!k)
		return;
	memmove(b->p, b->p + k, b->n - k);
	b->n -= k;
}

/* Drops the rest of an oversize frame as it arrives, up to its end block. */
static void discard(struct conn *c)
{
	const char *eb = c->in.n ? memchr(c->in.p, MLLP_EB, c->in.n) : NULL;
	size_t used;

	if (!eb) {
		buf_clear(&c->in);
		return;
	}
	c->discarding = 0;
	c->frame_since_ms = 0;
	used = (size_t)(eb + 1 - c->in.p);
	if (used < c->in.n && c->in.p[used] == MLLP_CR)
		used++;
	drop_front(&c->in, used);
}

/* Takes the next frame out of c->in, if there is one, and hands it to a
 * worker. An oversize frame goes with its start only, and the rest of it
 * is dropped as it arrives. */
static void take_frame(struct mllp_server *s, struct conn *c)
{
	size_t start, len, used;
	int found;

	found = mllp_next_frame(c->in.p ? c->in.p : "", c->in.n, &start, &len, &used);
	if (!found) {
		drop_front(&c->in, used);
		if (c->in.n <= s->cfg.max_message_bytes + 1)
			return;
		/* An oversize frame: in starts with its start block. */
		start = 1;
		len = s->cfg.max_message_bytes;
		used = c->in.n;
		c->discarding = 1;
	}
	if (found && len > s->cfg.max_message_bytes) {	/* whole, but too long: cut it too */
		len = s->cfg.max_message_bytes;
		found = 0;
	}
	buf_clear(&c->msg);
	if (buf_append(&c->msg, c->in.p + start, len)) {
		log_error("mllp: %s: out of memory for a message; closing", c->peer);
		c->peer_closed = 1;
		return;
	}
	c->truncated = !found;
	drop_front(&c->in, used);
	if (!c->discarding)
		c->frame_since_ms = 0;
	submit(s, c);
}

static void on_readable(struct mllp_server *s, struct conn *c)
{
	char chunk[READ_CHUNK];

	for (;;) {
		ssize_t r = read(c->fd, chunk, sizeof(chunk));

		if (r > 0) {
			if (buf_append(&c->in, chunk, (size_t)r)) {
				c->peer_closed = 1;
				return;
			}
			c->last_ms = time_monotonic_ms();
			if (c->discarding || c->in.n > s->cfg.max_message_bytes)
				break;		/* look at it before it grows further */
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			c->peer_closed = 1;
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
}

static void on_writable(struct conn *c)
{
	while (c->out_off < c->out.n) {
		ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.n - c->out_off, MSG_NOSIGNAL);

		if (w > 0) {
			c->out_off += (size_t)w;
			c->last_ms = time_monotonic_ms();
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN) {
			return;
		} else {
			c->peer_closed = 1;
			return;
		}
	}
	c->state = C_READ;
	buf_clear(&c->out);
	c->out_off = 0;
}

/* After any event: move the connection on as far as it goes, or close it. */
static void advance(struct mllp_server *s, struct conn *c)
{
	if (c->discarding)
		discard(c);
	if (c->state == C_READ && !c->peer_closed && !c->discarding && !s->stopping)
		take_frame(s, c);
	/* The clock of the frame that waits starts with its first byte. */
	if (!c->in.n && !c->discarding)
		c->frame_since_ms = 0;
	else if (!c->frame_since_ms)
		c->frame_since_ms = time_monotonic_ms();
	if (c->state == C_READ && (c->peer_closed || (s->stopping && !c->in.n))) {
		conn_free(s, c);
		return;
	}
	if (c->state == C_WRITE && c->peer_closed) {
		conn_free(s, c);
		return;
	}
	/* While BUSY, keep reading only to drop an oversize frame's rest or to
	 * notice a hang-up; pipelined frames wait in the socket. */
	if (c->state == C_READ)
		watch(s, c, EPOLLIN | EPOLLRDHUP);
	else if (c->state == C_WRITE)
		watch(s, c, EPOLLOUT);
	else if (c->peer_closed && c->events) {
		/* Gone while its message is with a worker: stop hearing of it
		 * (EPOLLHUP cannot be masked) until the worker is done. */
		epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
		c->events = 0;
	} else if (!c->peer_closed)
		watch(s, c, c->discarding ? EPOLLIN | EPOLLRDHUP : EPOLLRDHUP);
}

static void accept_all(struct mllp_server *s)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		char host[48] = "?", port[8] = "?";
		struct conn *c;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

		if (fd < 0)
			return;
		if (s->n_conns >= s->cfg.max_connections || s->stopping) {
			log_warn("mllp: %u connections already; refusing one", s->n_conns);
			close(fd);
			continue;
		}
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
		snprintf(c->peer, sizeof(c->peer), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
		c->fd = fd;
		c->state = C_READ;
		c->last_ms = time_monotonic_ms();
		c->events = ev.events;
		buf_init(&c->in, 0);
		buf_init(&c->msg, 0);
		buf_init(&c->ack, 0);
		buf_init(&c->out, 0);
		ev.data.ptr = c;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
	}
}

/* Answers that workers finished: frame them and start writing. */
static void take_done(struct mllp_server *s)
{
	struct conn *c, *next;
	uint64_t v;

	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("mllp: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	c = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; c; c = next) {
		next = c->qnext;
		buf_clear(&c->out);
		c->out_off = 0;
		if (c->ack.n && (buf_putc(&c->out, MLLP_SB) || buf_append(&c->out, c->ack.p, c->ack.n) ||
				 buf_append(&c->out, "\x1c\r", 2)))
			c->peer_closed = 1;
		c->state = c->out.n ? C_WRITE : C_READ;
		if (c->state == C_WRITE && !c->peer_closed)
			on_writable(c);
		if (!c->events && c->state != C_BUSY) {
			conn_free(s, c);	/* it hung up while its message was processed */
			continue;
		}
		advance(s, c);
	}
}

/* Closes connections silent for idle_timeout, and those whose frame has not
 * arrived whole within FRAME_LIMIT_S (or idle_timeout, if shorter) of its
 * first byte: a client dripping bytes resets the silence, not this clock. */
static void close_idle(struct mllp_server *s, int64_t now)
{
	struct conn *c = s->conns, *next;
	unsigned frame_s = s->cfg.idle_timeout_s < FRAME_LIMIT_S ? s->cfg.idle_timeout_s : FRAME_LIMIT_S;

	for (; c; c = next) {
		next = c->next;
		if (c->state == C_BUSY)
			continue;
		if (now - c->last_ms > (int64_t)s->cfg.idle_timeout_s * 1000) {
			log_info("mllp: %s: idle for %u s; closing", c->peer, s->cfg.idle_timeout_s);
			conn_free(s, c);
		} else if (c->state == C_READ && c->frame_since_ms &&
			   now - c->frame_since_ms > (int64_t)frame_s * 1000) {
			log_info("mllp: %s: a frame still incomplete after %u s; closing", c->peer, frame_s);
			conn_free(s, c);
		}
	}
}

static void *io_main(void *arg)
{
	struct mllp_server *s = arg;
	struct epoll_event evs[64];
	int64_t last_sweep = time_monotonic_ms(), stop_at = 0;

	for (;;) {
		int n = epoll_wait(s->ep, evs, 64, 250);
		int64_t now = time_monotonic_ms();

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == NULL) {
				accept_all(s);
				continue;
			}
			if (c == (struct conn *)s) {
				take_done(s);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				on_readable(s, c);
			if (evs[i].events & EPOLLOUT && c->state == C_WRITE)
				on_writable(c);
			advance(s, c);
		}
		if (now - last_sweep >= 1000) {
			close_idle(s, now);
			last_sweep = now;
		}
		if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) {
			struct conn *c, *next;
			int busy = 0;

			if (!stop_at) {
				stop_at = now + STOP_GRACE_MS;
				if (s->lfd >= 0) {
					epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL);
					close(s->lfd);
					s->lfd = -1;
				}
			}
			for (c = s->conns; c; c = next) {
				next = c->next;
				if (c->state == C_BUSY)
					busy = 1;
				else if (c->state == C_READ || now > stop_at)
					conn_free(s, c);
				else
					busy = 1;
			}
			if (!busy)
				return NULL;
			if (now > stop_at + STOP_GRACE_MS) {
				log_error("mllp: messages still in progress at shutdown");
				return NULL;
			}
		}
	}
}

/* ---- workers ---------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct mllp_server *s = arg;
	uint64_t one = 1;

	for (;;) {
		struct conn *c;

		pthread_mutex_lock(&s->lock);
		while (!s->jobs && !s->workers_exit)
			pthread_cond_wait(&s->cond, &s->lock);
		c = s->jobs;
		if (!c) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		s->jobs = c->qnext;
		if (!s->jobs)
			s->jobs_tail = NULL;
		pthread_mutex_unlock(&s->lock);

		buf_clear(&c->ack);
		s->fn(s->arg, c->msg.p ? c->msg.p : "", c->msg.n, c->truncated, c->peer, &c->ack);

		pthread_mutex_lock(&s->lock);
		c->qnext = s->done;
		s->done = c;
		pthread_mutex_unlock(&s->lock);
		if (write(s->efd, &one, sizeof(one)) < 0)
			log_warn("mllp: eventfd: %s", strerror(errno));
	}
}

/* ---- start and stop ------------------------------------------------------- */

static int listen_on(const char *host, int port, int *out_port, struct err *e)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	char ps[8];
	int fd = -1, one = 1, rc;

	snprintf(ps, sizeof(ps), "%d", port);
	if ((rc = getaddrinfo(host, ps, &hints, &ai)) != 0) {
		err_set(e, ERR_CONFIG, "mllp", "mllp: cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 512) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		err_set(e, ERR_CONFIG, "mllp", "mllp: cannot listen on %s:%d: %s", host, port,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*out_port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
						    : ((struct sockaddr_in *)&sa)->sin_port);
	return fd;
}

int mllp_start(const struct mllp_config *cfg, mllp_handler_fn fn, void *arg,
	       struct mllp_server **out, struct err *e)
{
	struct mllp_server *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	*out = NULL;
	if (!s)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	s->cfg = *cfg;
	s->fn = fn;
	s->arg = arg;
	s->ep = s->efd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if ((s->lfd = listen_on(cfg->host, cfg->port, &s->port, e)) < 0) {
		rc = e->code;
		goto fail;
	}
	if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) ||
	    (ev.data.ptr = s, epoll_ctl(s->ep, EPOLL_CTL_ADD, s->efd, &ev))) {
		rc = err_set(e, ERR_INTERNAL, NULL, "mllp: epoll: %s", strerror(errno));
		goto fail;
	}
	if (!(s->workers = calloc((size_t)cfg->workers, sizeof(pthread_t)))) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto fail;
	}
	for (; s->n_workers < cfg->workers; s->n_workers++)
		if (pthread_create(&s->workers[s->n_workers], NULL, worker_main, s))
			break;
	if (!s->n_workers || pthread_create(&s->io, NULL, io_main, s)) {
		rc = err_set(e, ERR_INTERNAL, NULL, "mllp: cannot start threads");
		s->workers_exit = 1;
		pthread_cond_broadcast(&s->cond);
		for (int i = 0; i < s->n_workers; i++)
			pthread_join(s->workers[i], NULL);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->ep >= 0)
		close(s->ep);
	if (s->efd >= 0)
		close(s->efd);
	free(s->workers);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	return rc;
}

int mllp_port(const struct mllp_server *s)
{
	return s->port;
}

void mllp_stop(struct mllp_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	__atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
	if (write(s->efd, &one, sizeof(one)) < 0)
		log_warn("mllp: eventfd: %s", strerror(errno));
	pthread_join(s->io, NULL);
	pthread_mutex_lock(&s->lock);
	s->workers_exit = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	while (s->conns)
		conn_free(s, s->conns);
	if (s->lfd >= 0)
		close(s->lfd);
	close(s->ep);
	close(s->efd);
	free(s->workers);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
