/*
 * test_b64url: the strict base64url codec: RFC 4648 vectors, round trips,
 * and every refusal (padding, '+', '/', whitespace, bytes outside the
 * alphabet, length 1 mod 4, non-canonical last characters, no room).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orgd/b64url.h"
#include "t.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Whether s decodes (with ample room). */
static int decodes(const char *s, size_t n)
{
	unsigned char out[256];
	size_t len;
	return b64url_decode(s, n, out, sizeof out, &len) == ERR_OK;
}

static int decodes_str(const char *s)
{
	return decodes(s, strlen(s));
}

TEST(rfc4648_vectors)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
		{"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char enc[64];
		unsigned char dec[64];
		size_t n = b64url_encode(v[i].in, strlen(v[i].in), enc);
		CHECK(n == strlen(v[i].out));
		CHECK_EQ_STR(enc, v[i].out);
		CHECK(n == B64URL_ENC_LEN(strlen(v[i].in)));
		size_t len = 99;
		CHECK(b64url_decode(v[i].out, strlen(v[i].out), dec, sizeof dec, &len) == ERR_OK);
		CHECK(len == strlen(v[i].in));
		CHECK(memcmp(dec, v[i].in, len) == 0);
	}
}

TEST(url_alphabet)
{
	/* standard base64 would give "+/8=" and "//8=" */
	static const unsigned char a[] = {0xfb, 0xff}, b[] = {0xff, 0xff};
	char enc[8];
	b64url_encode(a, sizeof a, enc);
	CHECK_EQ_STR(enc, "-_8");
	b64url_encode(b, sizeof b, enc);
	CHECK_EQ_STR(enc, "__8");
	unsigned char out[4];
	size_t len;
	CHECK(b64url_decode("-_8", 3, out, sizeof out, &len) == ERR_OK);
	CHECK(len == 2 && out[0] == 0xfb && out[1] == 0xff);
}

TEST(round_trips)
{
	unsigned char in[200], out[200];
	char enc[B64URL_ENC_LEN(200) + 1];
	srand(7);
	for (size_t n = 0; n <= sizeof in; n++) {
		for (int rep = 0; rep < 4; rep++) {
			for (size_t i = 0; i < n; i++)
				in[i] = (unsigned char)(rep == 0 ? 0xff : rep == 1 ? 0 : rand());
			size_t m = b64url_encode(in, n, enc);
			CHECK(m == B64URL_ENC_LEN(n));
			CHECK(strlen(enc) == m);
			CHECK(m % 4 != 1);
			size_t len;
			CHECK(B64URL_DEC_MAX(m) >= n);
			CHECK(b64url_decode(enc, m, out, n, &len) == ERR_OK); /* exact room */
			CHECK(len == n && memcmp(in, out, n) == 0);
		}
	}
}

TEST(encode_buf)
{
	unsigned char in[100];
	char enc[B64URL_ENC_LEN(100) + 1];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 37);
	struct buf b = {0};
	buf_puts(&b, "x.");
	b64url_encode_buf(&b, in, sizeof in);
	size_t m = b64url_encode(in, sizeof in, enc);
	CHECK(!b.oom && b.len == m + 2);
	CHECK(memcmp(b.p, "x.", 2) == 0 && memcmp(b.p + 2, enc, m) == 0);
	buf_free(&b);
}

TEST(refuses_padding)
{
	CHECK(decodes_str("Zg"));
	CHECK(!decodes_str("Zg=="));
	CHECK(!decodes_str("Zg="));
	CHECK(!decodes_str("Zm8="));
	CHECK(!decodes_str("Zm9v===="));
	CHECK(!decodes_str("===="));
	CHECK(!decodes_str("Zm=v"));
}

TEST(refuses_standard_alphabet)
{
	CHECK(decodes_str("-_8"));
	CHECK(!decodes_str("+/8"));
	CHECK(!decodes_str("+_8"));
	CHECK(!decodes_str("-/8"));
	CHECK(!decodes_str("Zm9v+A"));
	CHECK(!decodes_str("Zm9v/A"));
}

TEST(refuses_whitespace)
{
	CHECK(decodes_str("Zm9vYmFy"));
	CHECK(!decodes_str(" Zm9vYmFy"));
	CHECK(!decodes_str("Zm9vYmFy "));
	CHECK(!decodes_str("Zm9v YmFy"));
	CHECK(!decodes_str("Zm9v\nYmFy"));
	CHECK(!decodes_str("Zm9v\tYmFy"));
	CHECK(!decodes_str("Zm9vYmF\r"));
	CHECK(!decodes("Zm9v\0mFy", 8));
}

TEST(refuses_every_byte_outside_alphabet)
{
	for (int c = 0; c < 256; c++) {
		int in_alphabet = c != 0 && strchr(alphabet, c) != NULL;
		/* in each position of a full group and of both partial groups */
		for (size_t len = 2; len <= 8; len++) {
			if (len % 4 == 1)
				continue;
			for (size_t pos = 0; pos < len; pos++) {
				char s[8];
				memset(s, 'A', sizeof s);
				s[pos] = (char)c;
				/* keep the last character canonical */
				if (pos == len - 1 && len % 4 && in_alphabet)
					continue;
				CHECK(decodes(s, len) == in_alphabet);
			}
		}
	}
}

TEST(refuses_length_1_mod_4)
{
	CHECK(!decodes_str("A"));
	CHECK(!decodes_str("Zm9vY"));
	CHECK(!decodes_str("Zm9vYmFyA"));
	CHECK(decodes_str("Zm9vYg"));
}

TEST(refuses_non_canonical)
{
	/* two characters: the low 4 bits of the second are unused */
	for (int b = 0; b < 64; b++) {
		char s[2] = {'Q', alphabet[b]};
		CHECK(decodes(s, 2) == ((b & 0x0f) == 0));
	}
	/* three characters: the low 2 bits of the third are unused */
	for (int c = 0; c < 64; c++) {
		char s[3] = {'Z', 'm', alphabet[c]};
		CHECK(decodes(s, 3) == ((c & 0x03) == 0));
	}
	CHECK(decodes_str("Zm8"));
	CHECK(!decodes_str("Zm9"));
	CHECK(decodes_str("Zg"));
	CHECK(!decodes_str("Zh"));
	/* a full group has no unused bits: every last character is fine */
	for (int d = 0; d < 64; d++) {
		char s[4] = {'Z', 'm', '9', alphabet[d]};
		CHECK(decodes(s, 4));
	}
}

TEST(refuses_no_room)
{
	unsigned char out[8];
	size_t len = 5;
	CHECK(b64url_decode("Zm9vYmFy", 8, out, 5, &len) == ERR_INVALID);
	CHECK(len == 0);
	CHECK(b64url_decode("Zm9vYmFy", 8, out, 6, &len) == ERR_OK && len == 6);
	CHECK(b64url_decode("Zm9vYmE", 7, out, 4, &len) == ERR_INVALID);
	CHECK(b64url_decode("Zm9vYmE", 7, out, 5, &len) == ERR_OK && len == 5);
	CHECK(b64url_decode("", 0, NULL, 0, &len) == ERR_OK && len == 0);
}

int main(void)
{
	RUN(rfc4648_vectors);
	RUN(url_alphabet);
	RUN(round_trips);
	RUN(encode_buf);
	RUN(refuses_padding);
	RUN(refuses_standard_alphabet);
	RUN(refuses_whitespace);
	RUN(refuses_every_byte_outside_alphabet);
	RUN(refuses_length_1_mod_4);
	RUN(refuses_non_canonical);
	RUN(refuses_no_room);
	T_DONE();
}
