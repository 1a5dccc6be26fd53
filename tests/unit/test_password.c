/*
 * test_password: scrypt against RFC 7914 section 12, the stored encoding's
 * round trip, wrong passwords, stored parameters read back, and refusal of
 * tampered or out-of-bounds encodings. Hashes use log2n 14 to stay quick.
 */
#include <stdio.h>
#include <string.h>

#include "orgd/b64url.h"
#include "orgd/password.h"
#include "t.h"

static const struct pw_params fast = {.log2n = 14, .r = 8, .p = 1};

static void hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

TEST(rfc7914_vectors)
{
	unsigned char out[64];
	char h[129];
	CHECK(password_scrypt_raw("password", 8, "NaCl", 4, 1024, 8, 16, out, 64) == ERR_OK);
	hex(out, 64, h);
	CHECK_EQ_STR(h, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d"
			"92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
	/* the empty password and salt */
	CHECK(password_scrypt_raw("", 0, "", 0, 16, 1, 1, out, 64) == ERR_OK);
	hex(out, 64, h);
	CHECK_EQ_STR(h, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd006"
			"9ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
}

TEST(raw_refuses_bad_params)
{
	unsigned char out[32];
	CHECK(password_scrypt_raw("a", 1, "b", 1, 1000, 8, 1, out, 32) == ERR_INVALID);
	CHECK(password_scrypt_raw("a", 1, "b", 1, 1, 8, 1, out, 32) == ERR_INVALID);
	CHECK(password_scrypt_raw("a", 1, "b", 1, 1024, 0, 1, out, 32) == ERR_INVALID);
	CHECK(password_scrypt_raw("a", 1, "b", 1, 1024, 8, 0, out, 32) == ERR_INVALID);
	CHECK(password_scrypt_raw("a", 1, "b", 1, 1024, 8, 1, out, 0) == ERR_INVALID);
	CHECK(password_scrypt_raw("a", 1, "b", 1, (uint64_t)1 << 24, 64, 1, out, 32) ==
	      ERR_INVALID); /* 128 GiB */
}

TEST(hash_verify_round_trip)
{
	char enc[PASSWORD_HASH_MAX], enc2[PASSWORD_HASH_MAX];
	bool ok = false;
	CHECK(password_hash("correct horse", 13, &fast, enc, sizeof enc) == ERR_OK);
	CHECK(strncmp(enc, "$scrypt$ln=14,r=8,p=1$", 22) == 0);
	/* 22 characters of salt, '$', 43 of hash */
	CHECK(strlen(enc) == 22 + 22 + 1 + 43);
	CHECK(enc[22 + 22] == '$');
	CHECK(password_verify("correct horse", 13, enc, &ok) == ERR_OK);
	CHECK(ok);
	/* a fresh salt every time */
	CHECK(password_hash("correct horse", 13, &fast, enc2, sizeof enc2) == ERR_OK);
	CHECK(strcmp(enc, enc2) != 0);
	CHECK(strncmp(enc, enc2, 22) == 0);
	ok = false;
	CHECK(password_verify("correct horse", 13, enc2, &ok) == ERR_OK && ok);
}

TEST(wrong_password_fails)
{
	char enc[PASSWORD_HASH_MAX];
	bool ok = true;
	CHECK(password_hash("correct horse", 13, &fast, enc, sizeof enc) == ERR_OK);
	CHECK(password_verify("correct horsf", 13, enc, &ok) == ERR_OK && !ok);
	ok = true;
	CHECK(password_verify("correct hors", 12, enc, &ok) == ERR_OK && !ok);
	ok = true;
	CHECK(password_verify("correct horse!", 14, enc, &ok) == ERR_OK && !ok);
	ok = true;
	CHECK(password_verify("", 0, enc, &ok) == ERR_OK && !ok);
	/* the length, not a NUL, ends a password */
	ok = true;
	CHECK(password_verify("correct horse\0x", 15, enc, &ok) == ERR_OK && !ok);
}

TEST(stored_params_are_used)
{
	/* a hash made elsewhere with ln=10, r=4, p=2: verify reads them back */
	static const unsigned char salt[16] = "0123456789abcdef";
	unsigned char h[32];
	char s64[32], h64[64], enc[PASSWORD_HASH_MAX];
	CHECK(password_scrypt_raw("pw-1234567", 10, salt, 16, 1024, 4, 2, h, 32) == ERR_OK);
	b64url_encode(salt, 16, s64);
	b64url_encode(h, 32, h64);
	snprintf(enc, sizeof enc, "$scrypt$ln=10,r=4,p=2$%s$%s", s64, h64);
	bool ok = false;
	CHECK(password_verify("pw-1234567", 10, enc, &ok) == ERR_OK && ok);
	/* the same bytes under other parameters do not match */
	snprintf(enc, sizeof enc, "$scrypt$ln=11,r=4,p=2$%s$%s", s64, h64);
	ok = true;
	CHECK(password_verify("pw-1234567", 10, enc, &ok) == ERR_OK && !ok);
	snprintf(enc, sizeof enc, "$scrypt$ln=10,r=4,p=1$%s$%s", s64, h64);
	ok = true;
	CHECK(password_verify("pw-1234567", 10, enc, &ok) == ERR_OK && !ok);
}

TEST(tampered_hash_fails)
{
	char enc[PASSWORD_HASH_MAX];
	bool ok;
	CHECK(password_hash("correct horse", 13, &fast, enc, sizeof enc) == ERR_OK);
	size_t n = strlen(enc);
	/* one character of the hash, one of the salt */
	size_t pos[] = {n - 10, 30};
	for (size_t i = 0; i < 2; i++) {
		char t[PASSWORD_HASH_MAX];
		memcpy(t, enc, n + 1);
		t[pos[i]] = t[pos[i]] == 'A' ? 'B' : 'A';
		ok = true;
		CHECK(password_verify("correct horse", 13, t, &ok) == ERR_OK && !ok);
	}
}

/* The verify result for the stored string s: must be refused as malformed. */
static int refused(const char *s)
{
	bool ok = true;
	err_t e = password_verify("correct horse", 13, s, &ok);
	return e == ERR_INTERNAL && !ok;
}

TEST(malformed_encodings_refused)
{
	char enc[PASSWORD_HASH_MAX], t[2 * PASSWORD_HASH_MAX];
	CHECK(password_hash("correct horse", 13, &fast, enc, sizeof enc) == ERR_OK);
	const char *rest = enc + 22; /* "<salt>$<hash>" */
	const char *hash = rest + 23;
	static const char *bad_params[] = {
		"$scrypt$ln=014,r=8,p=1$",  "$scrypt$ln=9,r=8,p=1$",      "$scrypt$ln=21,r=8,p=1$",
		"$scrypt$ln=14,r=0,p=1$",   "$scrypt$ln=14,r=17,p=1$",    "$scrypt$ln=14,r=8,p=0$",
		"$scrypt$ln=14,r=8,p=5$",   "$scrypt$ln=20,r=16,p=1$",    "$scrypt$ln=20,r=8,p=4$",
		"$scrypt$ln=-14,r=8,p=1$",  "$scrypt$ln=+14,r=8,p=1$",    "$scrypt$ln=14,p=1,r=8$",
		"$scrypt$ln=14,r=8$",       "$scrypt$ln=14,r=8,p=1,x=1$", "$Scrypt$ln=14,r=8,p=1$",
		"$argon2id$ln=14,r=8,p=1$", "scrypt$ln=14,r=8,p=1$",      "$scrypt$ln=14 ,r=8,p=1$",
		"$scrypt$ln=140,r=8,p=1$",  "$scrypt$ln=14,r=08,p=1$",    "$scrypt$ln=20,r=9,p=1$",
	};
	for (size_t i = 0; i < sizeof bad_params / sizeof bad_params[0]; i++) {
		snprintf(t, sizeof t, "%s%s", bad_params[i], rest);
		CHECK(refused(t));
	}
	/* the salt and hash fields */
	snprintf(t, sizeof t, "$scrypt$ln=14,r=8,p=1$%.22s", rest);
	CHECK(refused(t)); /* no hash */
	snprintf(t, sizeof t, "$scrypt$ln=14,r=8,p=1$%.22s$", rest);
	CHECK(refused(t)); /* empty hash */
	snprintf(t, sizeof t, "$scrypt$ln=14,r=8,p=1$$%s", hash);
	CHECK(refused(t)); /* empty salt */
	snprintf(t, sizeof t, "%s=", enc);
	CHECK(refused(t)); /* padding */
	snprintf(t, sizeof t, "%s$", enc);
	CHECK(refused(t)); /* trailing field */
	snprintf(t, sizeof t, "%s ", enc);
	CHECK(refused(t)); /* trailing space */
	snprintf(t, sizeof t, "$scrypt$ln=14,r=8,p=1$%.10s$%s", rest, hash);
	CHECK(refused(t)); /* salt shorter than 8 bytes */
	snprintf(t, sizeof t, "$scrypt$ln=14,r=8,p=1$%.22s$%.20s", rest, hash);
	CHECK(refused(t)); /* hash shorter than 16 bytes */
	memcpy(t, enc, strlen(enc) + 1);
	t[30] = '+';
	CHECK(refused(t)); /* standard alphabet */
	memcpy(t, enc, strlen(enc) + 1);
	t[strlen(t) - 1] = t[strlen(t) - 1] == 'B' ? 'C' : 'B';
	CHECK(refused(t)); /* non-canonical last character */
	memcpy(t, enc, strlen(enc) + 1);
	t[strlen(t) - 2] = '\0'; /* 43 characters of a 32-byte hash, cut to 41 */
	CHECK(refused(t));       /* a truncated hash: 1 mod 4 is no base64url length */
	CHECK(refused(""));
	/* the untouched string still verifies */
	bool ok = false;
	CHECK(password_verify("correct horse", 13, enc, &ok) == ERR_OK && ok);
}

TEST(hash_refuses_bad_params)
{
	char enc[PASSWORD_HASH_MAX];
	static const struct pw_params bad[] = {
		{13, 8, 1}, {21, 8, 1},  {14, 0, 1}, {14, 17, 1}, {14, 8, 0},
		{14, 8, 5}, {20, 16, 1}, {20, 9, 1}, {20, 8, 3},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(password_hash("pw", 2, &bad[i], enc, sizeof enc) == ERR_INVALID);
		CHECK(enc[0] == '\0');
	}
	CHECK(password_hash("pw", 2, &fast, enc, 40) == ERR_INTERNAL); /* no room */
	CHECK(enc[0] == '\0');
	static char big[PASSWORD_MAX + 1];
	CHECK(password_hash(big, sizeof big, &fast, enc, sizeof enc) == ERR_INVALID);
}

TEST(default_params)
{
	/* NULL means OWASP's minimum: ln=17, r=8, p=1 (128 MiB) */
	char enc[PASSWORD_HASH_MAX];
	bool ok = false;
	CHECK(password_hash("correct horse", 13, NULL, enc, sizeof enc) == ERR_OK);
	CHECK(strncmp(enc, "$scrypt$ln=17,r=8,p=1$", 22) == 0);
	CHECK(password_verify("correct horse", 13, enc, &ok) == ERR_OK && ok);
}

TEST(burn_runs)
{
	password_burn("whatever", 8, &fast);
	password_burn("whatever", 8, &(struct pw_params){1, 1, 1}); /* out of bounds: default */
	CHECK(1);
}

int main(void)
{
	RUN(rfc7914_vectors);
	RUN(raw_refuses_bad_params);
	RUN(hash_verify_round_trip);
	RUN(wrong_password_fails);
	RUN(stored_params_are_used);
	RUN(tampered_hash_fails);
	RUN(malformed_encodings_refused);
	RUN(hash_refuses_bad_params);
	RUN(default_params);
	RUN(burn_runs);
	T_DONE();
}
