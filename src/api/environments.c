/*
 * environments: the targets where an organization's rules execute (API.md,
 * "Projects and environments"). Members read; admins provision and change.
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/config.h"
#include "orgd/db_project.h"
#include "orgd/id.h"

const struct jfield env_create_fields[3] = {
	{"name", JF_STRING, JF_REQUIRED, 1, 100, offsetof(struct env_in, name)},
	{"kind", JF_STRING, JF_REQUIRED, 1, 16, offsetof(struct env_in, kind)},
	{"region", JF_STRING, JF_REQUIRED, 1, 64, offsetof(struct env_in, region)},
};
const struct jfield env_update_fields[4] = {
	{"name", JF_STRING, 0, 1, 100, offsetof(struct env_in, name)},
	{"kind", JF_STRING, 0, 1, 16, offsetof(struct env_in, kind)},
	{"region", JF_STRING, 0, 1, 64, offsetof(struct env_in, region)},
	{"status", JF_STRING, 0, 1, 16, offsetof(struct env_in, status)},
};

static const char *const kinds[] = {"development", "staging", "production", NULL};
static const char *const statuses[] = {"active", "paused", NULL};

static bool one_of(const struct jstr *s, const char *const *names)
{
	for (; *names; names++)
		if (strlen(*names) == s->len && memcmp(*names, s->s, s->len) == 0)
			return true;
	return false;
}

/* The body's kind and status must be known words (when present). */
static err_t check_words(struct req *r, const struct env_in *in)
{
	if (in->kind.s && !one_of(&in->kind, kinds)) {
		r->err_field = "kind";
		r->err_msg = "kind must be \"development\", \"staging\" or \"production\".";
		return ERR_INVALID;
	}
	if (in->status.s && !one_of(&in->status, statuses)) {
		r->err_field = "status";
		r->err_msg = "status must be \"active\" or \"paused\".";
		return ERR_INVALID;
	}
	return ERR_OK;
}

static void write_env(struct jw *w, const struct environment *e)
{
	jw_obj(w);
	jw_kstr(w, "id", e->id);
	jw_kstr(w, "name", e->name);
	jw_kstr(w, "kind", e->kind);
	jw_kstr(w, "region", e->region);
	jw_kstr(w, "status", e->status);
	jw_kstr(w, "created_at", e->created_at);
	jw_obj_end(w);
}

static err_t name_taken(struct req *r, err_t err)
{
	if (err == ERR_CONFLICT) {
		r->err_field = "name";
		r->err_msg = "An environment with this name already exists.";
	}
	return err;
}

err_t api_envs_list(struct req *r)
{
	struct page p;
	struct environment *items;
	size_t n;
	err_t err = api_page(r, &p);
	if (err == ERR_OK)
		err = db_envs_page(r->caller.org_id, p.after, p.limit + 1, &r->arena, &items, &n);
	if (err != ERR_OK)
		return err;
	api_list_begin(r);
	for (size_t i = 0; i < n && i < (size_t)p.limit; i++)
		write_env(&r->w, &items[i]);
	api_list_end(r, n > (size_t)p.limit);
	return ERR_OK;
}

err_t api_envs_create(struct req *r)
{
	const struct env_in *in = r->in;
	err_t err = check_words(r, in);
	if (err != ERR_OK)
		return err;
	char id[ID_LEN_MAX + 1];
	id_new(id, "env");
	struct environment e = {
		.id = id, .name = in->name.s, .kind = in->kind.s, .region = in->region.s};
	err = name_taken(r, db_env_create(r->caller.org_id, r->caller.user_id, &e, clock_now()));
	if (err == ERR_OK)
		err = db_env_get(r->caller.org_id, id, &r->arena, &e);
	if (err != ERR_OK)
		return err;
	r->status = 201;
	write_env(&r->w, &e);
	return ERR_OK;
}

err_t api_env_find(struct req *r)
{
	struct environment *e = arena_alloc(&r->arena, sizeof *e);
	if (!e)
		return ERR_INTERNAL;
	r->target = e;
	return db_env_get(r->caller.org_id, r->path_id, &r->arena, e);
}

err_t api_env_get(struct req *r)
{
	write_env(&r->w, r->target);
	return ERR_OK;
}

err_t api_env_update(struct req *r)
{
	const struct env_in *in = r->in;
	err_t err = check_words(r, in);
	if (err != ERR_OK)
		return err;
	struct environment e = {.id = r->path_id,
				.name = in->name.s,
				.kind = in->kind.s,
				.region = in->region.s,
				.status = in->status.s};
	err = name_taken(r, db_env_update(r->caller.org_id, r->caller.user_id, &e, clock_now()));
	if (err == ERR_OK)
		err = api_env_find(r);
	if (err == ERR_OK)
		write_env(&r->w, r->target);
	return err;
}

err_t api_env_delete(struct req *r)
{
	err_t err = db_env_delete(r->caller.org_id, r->caller.user_id, r->path_id, clock_now());
	if (err == ERR_OK)
		r->status = 204;
	return err;
}
