/*
 * rand.h — unpredictable identifiers from the kernel's CSPRNG (getrandom).
 * Thread-safe.
 */
#ifndef LT_BASE_RAND_H
#define LT_BASE_RAND_H

#include "err.h"

#define UUID_STR_LEN 36

/* Writes a random (version 4) UUID in lower-case hex, NUL-terminated. */
int rand_uuid(char out[UUID_STR_LEN + 1]) LT_MUST_CHECK;

#endif
