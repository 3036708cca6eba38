/*
 * url.c — percent-decoding.
 */
#include "url.h"

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

size_t url_unescape(char *s, int plus_is_space)
{
	char *out = s;

	for (const char *in = s; *in; in++) {
		int hi, lo;

		if (*in == '%' && (hi = hex_value(in[1])) >= 0 && (lo = hex_value(in[2])) >= 0 &&
		    (hi || lo)) {
			*out++ = (char)(hi * 16 + lo);
			in += 2;
		} else if (*in == '+' && plus_is_space) {
			*out++ = ' ';
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
	return (size_t)(out - s);
}
