/*
 * url.c — percent-decoding.
 */
#include "url.h"
#include "buf.h"

size_t url_unescape(char *s, int plus_is_space)
{
	char *out = s;

	for (const char *in = s; *in; in++) {
		int hi, lo;

		if (*in == '%' && (hi = str_hex_digit(in[1])) >= 0 && (lo = str_hex_digit(in[2])) >= 0 &&
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
