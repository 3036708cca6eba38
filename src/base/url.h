/*
 * url.h — percent-decoding, shared by the HTTP layer (path and query) and
 * the API (form bodies of POST [type]/_search).
 */
#ifndef LT_BASE_URL_H
#define LT_BASE_URL_H

#include <stddef.h>

/* Decodes s in place and returns its new length. %00 and malformed escapes
 * stay as written (a decoded NUL would silently cut the text), so callers
 * refuse them as the invalid text they are. With plus_is_space, '+' reads
 * as a space (application/x-www-form-urlencoded). */
size_t url_unescape(char *s, int plus_is_space);

#endif
