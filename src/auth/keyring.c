/*
 * keyring: loading Ed25519 keys from PEM, their RFC 7638 kids, the JWK Set,
 * and Ed25519 signing and verifying through OpenSSL's EVP (see keyring.h).
 */
#include "orgd/keyring.h"
#include "orgd/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "orgd/b64url.h"

struct keyring_key {
	EVP_PKEY *pub_pkey; /* the public half, made from pub: verifies */
	EVP_PKEY *priv;     /* the private key, or NULL: signs */
	unsigned char pub[KEYRING_PUB_LEN];
	char x[KEYRING_KID_LEN + 1];   /* base64url(pub), the JWK "x" */
	char kid[KEYRING_KID_LEN + 1]; /* the RFC 7638 thumbprint */
};

struct keyring {
	struct keyring_key keys[KEYRING_MAX];
	size_t n;
	struct keyring_key *signer;
};

err_t keyring_new(struct keyring **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? ERR_OK : ERR_INTERNAL;
}

void keyring_free(struct keyring *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		EVP_PKEY_free(r->keys[i].pub_pkey);
		EVP_PKEY_free(r->keys[i].priv); /* OpenSSL wipes the private bytes */
	}
	free(r);
}

size_t keyring_count(const struct keyring *r)
{
	return r->n;
}

const struct keyring_key *keyring_find(const struct keyring *r, const char *kid, size_t len)
{
	if (len != KEYRING_KID_LEN)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		if (memcmp(r->keys[i].kid, kid, KEYRING_KID_LEN) == 0)
			return &r->keys[i];
	return NULL;
}

const struct keyring_key *keyring_signer(const struct keyring *r)
{
	return r->signer;
}

const char *keyring_kid(const struct keyring_key *k)
{
	return k->kid;
}

const unsigned char *keyring_pub(const struct keyring_key *k)
{
	return k->pub;
}

/* Never prompt for a passphrase: an encrypted key is simply refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* The first private key of pem, else its first public key; NULL if neither. */
static EVP_PKEY *read_pem(const char *pem, size_t len, bool *is_priv)
{
	EVP_PKEY *pk = NULL;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio) {
		pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
	}
	*is_priv = pk != NULL;
	if (!pk) {
		bio = BIO_new_mem_buf(pem, (int)len);
		if (bio) {
			pk = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
			BIO_free(bio);
		}
	}
	ERR_clear_error();
	return pk;
}

/* Fill k->x and k->kid from k->pub. Returns false if hashing failed. */
static bool make_kid(struct keyring_key *k)
{
	char jwk[sizeof "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"\"}" + KEYRING_KID_LEN];
	unsigned char md[32];
	unsigned int mdlen = 0;

	b64url_encode(k->pub, sizeof k->pub, k->x);
	int n = snprintf(jwk, sizeof jwk, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}",
			 k->x);
	if (n < 0 || (size_t)n >= sizeof jwk ||
	    EVP_Digest(jwk, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof md)
		return false;
	b64url_encode(md, sizeof md, k->kid);
	return true;
}

/* Sign a fixed message with priv and check it against pub: the halves agree. */
static bool halves_agree(EVP_PKEY *priv, const struct keyring_key *pub)
{
	static const char msg[] = "orgd keyring self-test";
	struct keyring_key tmp = {.priv = priv};
	unsigned char sig[KEYRING_SIG_LEN];
	return keyring_sign(&tmp, msg, sizeof msg - 1, sig) == ERR_OK &&
	       keyring_verify(pub, msg, sizeof msg - 1, sig, sizeof sig) == ERR_OK;
}

err_t keyring_add_pem(struct keyring *r, const char *pem, size_t len)
{
	if (len == 0 || len > KEYRING_PEM_MAX)
		return ERR_INVALID;
	bool is_priv;
	EVP_PKEY *pk = read_pem(pem, len, &is_priv);
	if (!pk)
		return ERR_INVALID;

	err_t err = ERR_INVALID;
	struct keyring_key k = {0};
	size_t publen = sizeof k.pub;
	if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pk, k.pub, &publen) != 1 || publen != sizeof k.pub)
		goto out;
	err = ERR_INTERNAL;
	if (!make_kid(&k))
		goto out;
	k.pub_pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k.pub, sizeof k.pub);
	if (!k.pub_pkey)
		goto out;
	if (is_priv && !halves_agree(pk, &k)) {
		err = ERR_INVALID;
		goto out;
	}

	struct keyring_key *slot = (struct keyring_key *)keyring_find(r, k.kid, KEYRING_KID_LEN);
	if (!slot) {
		if (r->n == KEYRING_MAX)
			goto out;
		slot = &r->keys[r->n++];
		*slot = k;
		k.pub_pkey = NULL;
	}
	if (is_priv) {
		if (!slot->priv) {
			slot->priv = pk;
			pk = NULL;
		}
		r->signer = slot;
	}
	err = ERR_OK;
out:
	EVP_PKEY_free(k.pub_pkey);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return err;
}

err_t keyring_sign(const struct keyring_key *k, const void *msg, size_t len,
		   unsigned char sig[KEYRING_SIG_LEN])
{
	if (!k->priv)
		return ERR_INTERNAL;
	err_t err = ERR_INTERNAL;
	size_t siglen = KEYRING_SIG_LEN;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->priv) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, len ? msg : (const void *)"", len) == 1 &&
	    siglen == KEYRING_SIG_LEN)
		err = ERR_OK;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

err_t keyring_verify(const struct keyring_key *k, const void *msg, size_t len,
		     const unsigned char *sig, size_t siglen)
{
	if (siglen != KEYRING_SIG_LEN)
		return ERR_UNAUTHENTICATED;
	err_t err = ERR_INTERNAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pub_pkey) == 1) {
		/* 1: good; 0: bad; < 0: a malformed signature or an error: refused alike */
		int rc = EVP_DigestVerify(ctx, sig, siglen, len ? msg : (const void *)"", len);
		err = rc == 1 ? ERR_OK : ERR_UNAUTHENTICATED;
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

void keyring_jwks(const struct keyring *r, struct jw *w)
{
	jw_obj(w);
	jw_key(w, "keys");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++) {
		const struct keyring_key *k = &r->keys[i];
		jw_obj(w);
		jw_kstr(w, "kty", "OKP");
		jw_kstr(w, "crv", "Ed25519");
		jw_kstr(w, "x", k->x);
		jw_kstr(w, "kid", k->kid);
		jw_kstr(w, "alg", "EdDSA");
		jw_kstr(w, "use", "sig");
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

/* ---- loading a directory ------------------------------------------------- */

static bool is_pem_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".pem") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Read the regular file path (at most KEYRING_PEM_MAX bytes) into *data
 * (malloc'd, for the caller to wipe and free). Returns 0, or an errno value
 * (EISDIR for anything not a regular file).
 */
static int read_file(const char *path, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct stat st;
	int e = 0;
	if (fstat(fd, &st) != 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EISDIR;
	else if (st.st_size > KEYRING_PEM_MAX)
		e = EFBIG;
	char *p = e ? NULL : malloc(KEYRING_PEM_MAX);
	if (!e && !p)
		e = ENOMEM;
	size_t n = 0;
	while (!e && n < KEYRING_PEM_MAX) {
		ssize_t k = read(fd, p + n, KEYRING_PEM_MAX - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			e = errno;
		else if (k == 0)
			break;
		else
			n += (size_t)k;
	}
	close(fd);
	if (e) {
		if (p)
			OPENSSL_cleanse(p, KEYRING_PEM_MAX);
		free(p);
		return e;
	}
	*data = p;
	*len = n;
	return 0;
}

/* The names of dir's "*.pem" files, sorted, in *names (free each, then it). */
static err_t list_pems(const char *dir, char ***names, size_t *count)
{
	*names = NULL;
	*count = 0;
	DIR *d = opendir(dir);
	if (!d) {
		log_error("msg=\"key ring: cannot read the directory\" dir=%s error=\"%s\"", dir,
			  strerror(errno));
		return ERR_INTERNAL;
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	err_t err = ERR_OK;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!is_pem_name(de->d_name))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof *nv);
			if (!nv) {
				err = ERR_INTERNAL;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!(v[n] = strdup(de->d_name))) {
			err = ERR_INTERNAL;
			break;
		}
		n++;
	}
	closedir(d);
	if (err) {
		log_error("msg=\"key ring: out of memory\" dir=%s", dir);
		while (n)
			free(v[--n]);
		free(v);
		return err;
	}
	if (n)
		qsort(v, n, sizeof *v, cmp_names);
	*names = v;
	*count = n;
	return ERR_OK;
}

err_t keyring_load(const char *dir, struct keyring **out)
{
	*out = NULL;
	char **names;
	size_t n;
	err_t err = list_pems(dir, &names, &n);
	if (err)
		return err;
	struct keyring *r;
	err = keyring_new(&r);
	for (size_t i = 0; i < n && !err; i++) {
		char path[PATH_MAX];
		int pn = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (pn < 0 || (size_t)pn >= sizeof path) {
			log_warn("msg=\"key ring: path too long, skipped\" dir=%s file=%s", dir,
				 names[i]);
			continue;
		}
		char *data;
		size_t len;
		int e = read_file(path, &data, &len);
		if (e) {
			log_warn("msg=\"key ring: unreadable, skipped\" file=%s error=\"%s\"", path,
				 e == EISDIR ? "not a regular file" : strerror(e));
			continue;
		}
		err_t ae = keyring_add_pem(r, data, len);
		OPENSSL_cleanse(data, KEYRING_PEM_MAX);
		free(data);
		if (ae == ERR_INVALID) {
			log_warn("msg=\"key ring: not an Ed25519 PEM key, skipped\" file=%s", path);
		} else if (ae) {
			log_error("msg=\"key ring: more than %d keys, or out of memory\" file=%s",
				  KEYRING_MAX, path);
			err = ae;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!err && !r->signer) {
		log_error("msg=\"key ring: no Ed25519 private key (*.pem)\" dir=%s", dir);
		err = ERR_INTERNAL;
	}
	if (err) {
		keyring_free(r);
		return err;
	}
	*out = r;
	return ERR_OK;
}
