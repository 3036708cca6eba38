/*
 * grant.c — what the OAuth endpoints remember between requests (decision
 * 0019): authorization codes, the access tokens revoked before they
 * expire, and the bounds on logins.
 *
 * Codes live code_ttl (60 s unless configured) and are redeemed once. They are kept in
 * memory only: a restart loses the logins in progress (their users log in
 * again), nothing else. A redeemed code is kept until the access token
 * issued for it expires, so that a second use can revoke what the first
 * one got (RFC 6749 §4.1.2).
 *
 * Revoked access tokens are durable (store_token_revoke) and copied into
 * an in-memory set at start, which api_authenticate asks on every request:
 * one atomic load while nothing is revoked, a read lock and a probe
 * otherwise.
 *
 * Threads: every function may be called from any thread. A mutex guards
 * the codes, a read-write lock the revoked set.
 */
#include "api_int.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../base/log.h"
#include "../base/time.h"

#define API_CODES_MAX 4096		/* pending and recently redeemed codes */
#define API_CODE_BYTES 32		/* random bytes of a code */
#define API_LOGINS_AT_ONCE 2		/* argon2id verifications at once: 64 MiB each */
#define API_LOGIN_WAIT_S 10		/* a login waits this long for its turn, then 503 */
#define REVOKED_MIN_SLOTS 256		/* the revoked set's first size (a power of two) */

struct code_slot {
	char hash[65];			/* SHA-256 of the code */
	int64_t created_ms;
	int64_t keep_until_ms;		/* freed after this */
	int redeemed;
	int reused;			/* presented again after its redemption */
	char jti[STORE_JTI_MAX];	/* what its redemption issued */
	int64_t jti_exp_s;
	char family[STORE_JTI_MAX];
	struct api_code grant;
};

struct revoked_slot {
	char jti[STORE_JTI_MAX];	/* "": free */
	int64_t exp_s;
};

struct api_grants {
	pthread_mutex_t lock;		/* codes */
	struct code_slot *code[API_CODES_MAX];
	pthread_rwlock_t rlock;		/* revoked */
	struct revoked_slot *revoked;
	size_t cap;			/* a power of two */
	size_t used;
	size_t n_revoked;		/* = used, read without the lock */
	sem_t logins;
	pthread_mutex_t totp;
};

/* ---- The revoked set ----------------------------------------------------------- */

static size_t jti_hash(const char *s)
{
	size_t h = 14695981039346656037u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* The slot of jti, or the free one where it would go. Under rlock. */
static struct revoked_slot *revoked_find(struct api_grants *g, const char *jti)
{
	size_t i = jti_hash(jti) & (g->cap - 1);

	while (g->revoked[i].jti[0] && strcmp(g->revoked[i].jti, jti))
		i = (i + 1) & (g->cap - 1);
	return &g->revoked[i];
}

/* A new table without the entries expired at now_s, big enough to stay at
 * most half full after one more. Under the write lock. */
static int revoked_rebuild(struct api_grants *g, int64_t now_s)
{
	struct revoked_slot *old = g->revoked;
	size_t old_cap = g->cap, live = 0, cap = REVOKED_MIN_SLOTS;

	for (size_t i = 0; i < old_cap; i++)
		live += old[i].jti[0] && old[i].exp_s > now_s;
	while (cap < 2 * (live + 1))
		cap *= 2;
	if (!(g->revoked = calloc(cap, sizeof(*g->revoked)))) {
		g->revoked = old;
		return ERR_NOMEM;
	}
	g->cap = cap;
	g->used = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].jti[0] && old[i].exp_s > now_s) {
			*revoked_find(g, old[i].jti) = old[i];
			g->used++;
		}
	free(old);
	return 0;
}

static int revoked_add(struct api_grants *g, const char *jti, int64_t exp_s)
{
	struct revoked_slot *s;
	int rc = 0;

	if (!jti[0] || strlen(jti) >= STORE_JTI_MAX)
		return 0;
	pthread_rwlock_wrlock(&g->rlock);
	if (2 * (g->used + 1) > g->cap)
		rc = revoked_rebuild(g, time_now_ms() / 1000);
	if (!rc) {
		s = revoked_find(g, jti);
		if (!s->jti[0]) {
			snprintf(s->jti, sizeof(s->jti), "%s", jti);
			g->used++;
		}
		if (exp_s > s->exp_s)
			s->exp_s = exp_s;
		__atomic_store_n(&g->n_revoked, g->used, __ATOMIC_RELEASE);
	}
	pthread_rwlock_unlock(&g->rlock);
	return rc;
}

static int revoked_load(void *ctx, const char *jti, int64_t exp_s)
{
	return revoked_add(ctx, jti, exp_s);
}

int api_token_revoked(struct api *api, const char *jti)
{
	struct api_grants *g = api->grants;
	int found;

	if (!g || !jti || !jti[0] || !__atomic_load_n(&g->n_revoked, __ATOMIC_ACQUIRE))
		return 0;
	pthread_rwlock_rdlock(&g->rlock);
	found = revoked_find(g, jti)->jti[0] != '\0';
	pthread_rwlock_unlock(&g->rlock);
	return found;
}

int api_revoke_token(struct api *api, const char *jti, int64_t exp_s, struct err *e)
{
	int rc;

	exp_s += API_REVOKE_MARGIN_S;
	if ((rc = store_token_revoke(api->st, jti, exp_s, e)))
		return rc;
	if (revoked_add(api->grants, jti, exp_s))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

int api_revoke_family(struct api *api, const char *family, struct err *e)
{
	return store_grant_revoke_family(api->st, family, time_now_ms(), revoked_load, api->grants,
					 e);
}

/* ---- Codes --------------------------------------------------------------------- */

static int64_t code_ttl_ms(const struct api *api)
{
	return (api->cfg.code_ttl_s > 0 ? api->cfg.code_ttl_s : 60) * 1000;
}

/* Frees what has lived its time, under lock. */
static void codes_sweep(struct api_grants *g, int64_t now_ms)
{
	for (size_t i = 0; i < API_CODES_MAX; i++)
		if (g->code[i] && g->code[i]->keep_until_ms < now_ms) {
			free(g->code[i]);
			g->code[i] = NULL;
		}
}

/* A free place for a new code (an index), or -1; under lock. The oldest
 * redeemed code goes when none is free (it loses only its reuse
 * detection). */
static int code_place(struct api_grants *g, int64_t now_ms)
{
	int oldest = -1;

	codes_sweep(g, now_ms);
	for (int i = 0; i < API_CODES_MAX; i++) {
		if (!g->code[i])
			return i;
		if (g->code[i]->redeemed &&
		    (oldest < 0 || g->code[i]->created_ms < g->code[oldest]->created_ms))
			oldest = i;
	}
	if (oldest >= 0) {
		free(g->code[oldest]);
		g->code[oldest] = NULL;
	}
	return oldest;
}

static struct code_slot *code_find(struct api_grants *g, const char *hash)
{
	for (size_t i = 0; i < API_CODES_MAX; i++)
		if (g->code[i] && !strcmp(g->code[i]->hash, hash))
			return g->code[i];
	return NULL;
}

int api_code_new(struct api *api, const struct api_code *grant, struct buf *code, struct err *e)
{
	struct api_grants *g = api->grants;
	struct code_slot *s;
	int64_t now = time_now_ms();
	int rc, place;

	if (!(s = calloc(1, sizeof(*s))))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	buf_clear(code);
	if ((rc = auth_random_token(API_CODE_BYTES, code, e))) {
		free(s);
		return rc;
	}
	auth_sha256_hex(code->p, code->n, s->hash);
	s->created_ms = now;
	s->keep_until_ms = now + code_ttl_ms(api);
	s->grant = *grant;
	pthread_mutex_lock(&g->lock);
	if ((place = code_place(g, now)) >= 0) {
		g->code[place] = s;
		s = NULL;		/* the table's now */
	}
	pthread_mutex_unlock(&g->lock);
	if (s) {
		free(s);
		return err_set(e, ERR_BUSY, NULL, "too many logins at once; try again in a minute");
	}
	return 0;
}

enum api_code_state api_code_redeem(struct api *api, const char *code, struct api_code *out)
{
	struct api_grants *g = api->grants;
	char hash[65], jti[STORE_JTI_MAX] = "", family[STORE_JTI_MAX] = "";
	int64_t now = time_now_ms(), jti_exp = 0;
	enum api_code_state state = API_CODE_OK;
	struct code_slot *s;
	struct err e = { 0 };

	auth_sha256_hex(code, strlen(code), hash);
	pthread_mutex_lock(&g->lock);
	if (!(s = code_find(g, hash)))
		state = API_CODE_UNKNOWN;
	else if (s->redeemed) {
		state = API_CODE_REUSED;
		s->reused = 1;
		memcpy(jti, s->jti, sizeof(jti));
		memcpy(family, s->family, sizeof(family));
		jti_exp = s->jti_exp_s;
	} else if (now - s->created_ms > code_ttl_ms(api)) {
		state = API_CODE_EXPIRED;
		s->keep_until_ms = 0;		/* the next sweep frees it */
	} else {
		s->redeemed = 1;
		/* Until the token issued for it expires (api_code_issued says when). */
		s->keep_until_ms = now + (api_token_ttl_s(api) + API_REVOKE_MARGIN_S) * 1000;
		*out = s->grant;
	}
	pthread_mutex_unlock(&g->lock);
	/* A second use: what the first one got is revoked (RFC 6749 §4.1.2). */
	if (jti[0] && api_revoke_token(api, jti, jti_exp, &e))
		log_error("oauth: cannot revoke the token of a reused code: %s", e.issue[0].diagnostics);
	if (family[0] && api_revoke_family(api, family, &e))
		log_error("oauth: cannot revoke the refresh token of a reused code: %s",
			  e.issue[0].diagnostics);
	return state;
}

int api_code_issued(struct api *api, const char *code, const char *jti, int64_t jti_exp_s,
		    const char *family)
{
	struct api_grants *g = api->grants;
	struct code_slot *s;
	char hash[65];
	int reused = 0;

	auth_sha256_hex(code, strlen(code), hash);
	pthread_mutex_lock(&g->lock);
	if ((s = code_find(g, hash))) {
		snprintf(s->jti, sizeof(s->jti), "%s", jti);
		snprintf(s->family, sizeof(s->family), "%s", family ? family : "");
		s->jti_exp_s = jti_exp_s;
		s->keep_until_ms = (jti_exp_s + API_REVOKE_MARGIN_S) * 1000;
		reused = s->reused;
	}
	pthread_mutex_unlock(&g->lock);
	return reused;
}

/* ---- Logins ------------------------------------------------------------------------ */

int api_login_begin(struct api *api, struct err *e)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += API_LOGIN_WAIT_S;
	while (sem_timedwait(&api->grants->logins, &until))
		if (errno != EINTR)
			return err_set(e, ERR_BUSY, NULL, "too many logins at once; try again");
	return 0;
}

void api_login_end(struct api *api)
{
	sem_post(&api->grants->logins);
}

void api_totp_lock(struct api *api)
{
	pthread_mutex_lock(&api->grants->totp);
}

void api_totp_unlock(struct api *api)
{
	pthread_mutex_unlock(&api->grants->totp);
}

/* ---- Life -------------------------------------------------------------------------- */

int api_grants_open(struct api *api, struct err *e)
{
	struct api_grants *g = calloc(1, sizeof(*g));

	if (!g || !(g->revoked = calloc(REVOKED_MIN_SLOTS, sizeof(*g->revoked)))) {
		free(g);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	g->cap = REVOKED_MIN_SLOTS;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->totp, NULL);
	pthread_rwlock_init(&g->rlock, NULL);
	sem_init(&g->logins, 0, API_LOGINS_AT_ONCE);
	api->grants = g;
	return store_tokens_revoked(api->st, time_now_ms(), revoked_load, g, e);
}

void api_grants_close(struct api *api)
{
	struct api_grants *g = api->grants;

	if (!g)
		return;
	for (size_t i = 0; i < API_CODES_MAX; i++)
		free(g->code[i]);
	free(g->revoked);
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->totp);
	pthread_rwlock_destroy(&g->rlock);
	sem_destroy(&g->logins);
	free(g);
	api->grants = NULL;
}
