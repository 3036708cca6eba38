/*
 * ratelimit.c — requests per second per account, logins per second per
 * address (decision 0018).
 *
 * A token bucket per key: it holds up to burst tokens, refills at rate per
 * second, and a request takes one. The buckets live in a fixed table of
 * LIMIT_SLOTS found by hash with a short linear probe, so memory is bounded
 * whatever the number of clients or addresses: a key that finds no room
 * takes the probed slot idle the longest. A slot idle for burst/rate
 * seconds is full again anyway, so reusing it forgets nothing; a flood of
 * new addresses can at worst hand an address a fresh bucket early.
 *
 * One mutex guards the table: the critical section is a hash probe and a
 * few multiplications, far below the cost of the request it guards.
 */
#include "api_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/time.h"

#define LIMIT_SLOTS 4096		/* a power of two */
#define LIMIT_PROBE 8
#define LIMIT_KEY 72

struct bucket {
	char key[LIMIT_KEY];		/* "": free */
	double tokens;
	int64_t at_ms;			/* when tokens was last brought up to date */
};

struct api_limiter {
	pthread_mutex_t lock;
	struct bucket slot[LIMIT_SLOTS];
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

int api_limiter_open(struct api *api, struct err *e)
{
	if (api->cfg.rate_limit <= 0 && api->cfg.login_rate_limit <= 0)
		return 0;
	if (!(api->limiter = calloc(1, sizeof(*api->limiter))))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	pthread_mutex_init(&api->limiter->lock, NULL);
	return 0;
}

void api_limiter_close(struct api *api)
{
	if (!api->limiter)
		return;
	pthread_mutex_destroy(&api->limiter->lock);
	free(api->limiter);
	api->limiter = NULL;
}

/* The bucket of key, found or made. */
static struct bucket *bucket(struct api_limiter *l, const char *key, double burst, int64_t now_ms)
{
	uint32_t h = hash(key);
	struct bucket *victim = NULL;

	for (uint32_t i = 0; i < LIMIT_PROBE; i++) {
		struct bucket *b = &l->slot[(h + i) & (LIMIT_SLOTS - 1)];

		if (!strcmp(b->key, key))
			return b;
		if (!victim || !b->key[0] || (victim->key[0] && b->at_ms < victim->at_ms))
			victim = b;
	}
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->tokens = burst;
	victim->at_ms = now_ms;
	return victim;
}

int64_t api_limit_take(struct api_limiter *l, const char *key, double rate, double burst,
		       int64_t now_ms)
{
	struct bucket *b;
	int64_t wait_s = 0;

	if (!l || rate <= 0)
		return 0;
	pthread_mutex_lock(&l->lock);
	b = bucket(l, key, burst, now_ms);
	if (now_ms > b->at_ms) {
		b->tokens += (double)(now_ms - b->at_ms) * rate / 1000.0;
		if (b->tokens > burst)
			b->tokens = burst;
		b->at_ms = now_ms;
	}
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else
		wait_s = (int64_t)((1.0 - b->tokens) / rate) + 1;
	pthread_mutex_unlock(&l->lock);
	return wait_s;
}

int api_limit(struct api_ctx *c, int login)
{
	const struct api_config *cfg = &c->api->cfg;
	double rate = login ? cfg->login_rate_limit : cfg->rate_limit;
	char key[LIMIT_KEY], after[24];
	int64_t wait_s;

	if (!c->api->limiter || rate <= 0)
		return 0;
	if (login)
		snprintf(key, sizeof(key), "a:%.64s", c->req->peer ? c->req->peer : "");
	else if (c->who.principal)
		snprintf(key, sizeof(key), "p:%lld", (long long)c->who.principal);
	else
		snprintf(key, sizeof(key), "s:%.64s", c->who.agent);	/* an external token's subject */
	if (!(wait_s = api_limit_take(c->api->limiter, key, rate, rate * 2, time_now_ms())))
		return 0;
	snprintf(after, sizeof(after), "%lld", (long long)wait_s);
	if (api_response_add_header(c->res, "Retry-After", after))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	c->audit_outcome_detail = "rate limit";
	return err_set(&c->err, ERR_TOO_MANY, NULL,
		       login ? "too many login requests from this address: try again in %lld s"
			     : "too many requests for this account: try again in %lld s",
		       (long long)wait_s);
}
