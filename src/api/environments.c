/*
 * environments: the targets where an organization's rules execute (API.md,
 * "Projects and environments"). Members read; admins provision and change.
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_project.h"
#include "orgd/id.h"

const char *const env_kinds[] = {"development", "staging", "production", NULL};
const char *const env_statuses[] = {"active", "paused", NULL};

const struct jfield env_create_fields[3] = {
	{"name", JF_STRING, JF_REQUIRED, 1, 100, offsetof(struct env_in, name)},
	{"kind", JF_ENUM, JF_REQUIRED, 0, 0, offsetof(struct env_in, kind), .enums = env_kinds},
	{"region", JF_STRING, JF_REQUIRED, 1, 64, offsetof(struct env_in, region)},
};
const struct jfield env_update_fields[4] = {
	{"name", JF_STRING, 0, 1, 100, offsetof(struct env_in, name)},
	{"kind", JF_ENUM, 0, 0, 0, offsetof(struct env_in, kind), .enums = env_kinds},
	{"region", JF_STRING, 0, 1, 64, offsetof(struct env_in, region)},
	{"status", JF_ENUM, 0, 0, 0, offsetof(struct env_in, status), .enums = env_statuses},
};

/* The word at index i of words, or NULL when the field was absent (bit of r->present). */
static const char *word(const struct req *r, unsigned bit, const char *const *words, int i)
{
	return r->present & (1u << bit) ? words[i] : NULL;
}

static void write_env(struct jw *w, const void *item)
{
	const struct environment *e = item;
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
	return api_list(r, LIST_ENVS, r->caller.org_id, write_env);
}

err_t api_envs_create(struct req *r)
{
	const struct env_in *in = r->in;
	char id[ID_LEN_MAX + 1];
	id_new(id, "env");
	struct environment e = {
		.id = id, .name = in->name.s, .kind = env_kinds[in->kind], .region = in->region.s};
	err_t err =
		name_taken(r, db_env_create(r->caller.org_id, r->caller.user_id, &e, clock_now()));
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
	struct environment e = {.id = r->path_id,
				.name = in->name.s,
				.kind = word(r, 1, env_kinds, in->kind),
				.region = in->region.s,
				.status = word(r, 3, env_statuses, in->status)};
	err_t err =
		name_taken(r, db_env_update(r->caller.org_id, r->caller.user_id, &e, clock_now()));
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
