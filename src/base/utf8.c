/* utf8.c — one UTF-8 decoder for the whole code base. */
#include "utf8.h"

size_t utf8_seq_len(const unsigned char *p, size_t left)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;	/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;	/* beyond U+10FFFF */
	} else
		return 0;
	if (left < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

void utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t left = 0;

	while (p[left])
		left++;
	while (*p) {
		size_t n = utf8_seq_len(p, left);

		if (n == 0) {
			*p++ = '?';
			left--;
			continue;
		}
		if (n == 1 && *p < 0x20)
			*p = ' ';
		p += n;
		left -= n;
	}
}
