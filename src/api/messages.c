/*
 * messages: the three messages orgd sends (API.md "Email"): the verification
 * email, the invitation and the password reset, each plain text with its
 * link on a line of its own; and the email tokens they carry (32 random
 * bytes, base64url; only their SHA-256 is stored). The outbox (db_mail.h)
 * keeps them until the mailer has sent them.
 */
#include <string.h>
#include <sys/random.h>

#include "orgd/api.h"
#include "orgd/b64url.h"
#include "orgd/db_user.h"
#include "orgd/id.h"
#include "orgd/log.h"

static struct api_settings settings;

void api_configure(const struct api_settings *s)
{
	settings = *s;
}

const struct api_settings *api_settings(void)
{
	return &settings;
}

err_t api_email_token(struct email_token *t, int64_t expires, char out[API_TOKEN_LEN + 1])
{
	unsigned char raw[32];
	size_t got = 0;
	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0)
			return ERR_INTERNAL;
		got += (size_t)n;
	}
	b64url_encode(raw, sizeof raw, out);
	size_t len = strlen(out);
	digest_sha256((const void *const[]){out}, &len, 1, t->hash);
	t->expires = expires;
	return ERR_OK;
}

void api_token_hash(const char *token, size_t len, unsigned char out[DIGEST_LEN])
{
	digest_sha256((const void *const[]){token}, &len, 1, out);
}

/* A Message-ID of ours: a fresh id at the sender's domain (kept for every attempt). */
static const char *message_id(struct arena *a)
{
	char id[ID_LEN_MAX + 1];
	id_new(id, "msg");
	const char *from = settings.mail_from ? settings.mail_from : "";
	const char *at = strrchr(from, '@');
	size_t n = at ? strcspn(at + 1, "> ") : 0;
	return arena_printf(a, "<%s@%.*s>", id, (int)(n ? n : 9), n ? at + 1 : "orgd.local");
}

/* m with its Message-ID, or ERR_INTERNAL if a part could not be made. */
static err_t finish(struct db_mail *m, const char *to, struct arena *a)
{
	m->to = to;
	m->message_id = message_id(a);
	return m->subject && m->body && m->message_id ? ERR_OK : ERR_INTERNAL;
}

err_t api_mail_verify(const char *to, const char *name, const char *token, struct arena *a,
		      struct db_mail *m)
{
	m->subject = "Verify your email address for orgd";
	m->body = arena_printf(a,
			       "Hello %s,\n\n"
			       "Please confirm that this is your email address by opening this "
			       "link:\n\n"
			       "%s/verify-email?token=%s\n\n"
			       "The link works once and for 24 hours. Invitations to organizations "
			       "reach you only once the address is verified.\n\n"
			       "If you did not sign up for orgd, you can ignore this message.\n",
			       name, settings.app_url, token);
	return finish(m, to, a);
}

err_t api_mail_invite(const char *to, const char *org_name, const char *inviter, enum role role,
		      struct arena *a, struct db_mail *m)
{
	m->subject = arena_printf(a, "%s invited you to %s on orgd", inviter, org_name);
	m->body = arena_printf(
		a,
		"Hello,\n\n"
		"%s invited you to join the organization \"%s\" on orgd as %s %s.\n\n"
		"To accept or decline, sign in with this address (verified) and open:\n\n"
		"%s/invitations\n\n"
		"The invitation expires in %lld days. If you do not know %s, you can "
		"ignore this message.\n",
		inviter, org_name,
		role_name(role)[0] && strchr("aeiou", role_name(role)[0]) ? "an" : "a",
		role_name(role), settings.app_url, (long long)(settings.invite_ttl / 86400),
		inviter);
	return finish(m, to, a);
}

err_t api_mail_reset(const char *to, const char *name, const char *token, struct arena *a,
		     struct db_mail *m)
{
	m->subject = "Reset your orgd password";
	m->body =
		arena_printf(a,
			     "Hello %s,\n\n"
			     "Someone asked to reset the password of your orgd account. To choose "
			     "a new one, open this link:\n\n"
			     "%s/reset-password?token=%s\n\n"
			     "The link works once and for one hour. Every session of the account "
			     "ends when the password is reset.\n\n"
			     "If you did not ask for this, you can ignore this message: your "
			     "password stays as it is.\n",
			     name, settings.app_url, token);
	return finish(m, to, a);
}
