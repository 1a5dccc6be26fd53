/*
 * projects: an organization's rule sets (API.md, "Projects and environments").
 * Any member may read and change them; names are unique per organization.
 */
#include <stddef.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_project.h"
#include "orgd/id.h"

const struct jfield project_create_fields[2] = {
	{"name", JF_STRING, JF_REQUIRED, 1, 100, offsetof(struct project_in, name)},
	{"description", JF_STRING, JF_NULLABLE, 0, 1000, offsetof(struct project_in, description)},
};
const struct jfield project_update_fields[2] = {
	{"name", JF_STRING, 0, 1, 100, offsetof(struct project_in, name)},
	{"description", JF_STRING, 0, 0, 1000, offsetof(struct project_in, description)},
};

static void write_project(struct jw *w, const void *item)
{
	const struct project *p = item;
	jw_obj(w);
	jw_kstr(w, "id", p->id);
	jw_kstr(w, "name", p->name);
	jw_kstr(w, "description", p->description);
	jw_kstr(w, "created_at", p->created_at);
	jw_obj_end(w);
}

static err_t name_taken(struct req *r, err_t err)
{
	if (err == ERR_CONFLICT) {
		r->err_field = "name";
		r->err_msg = "A project with this name already exists.";
	}
	return err;
}

err_t api_projects_list(struct req *r)
{
	return api_list(r, LIST_PROJECTS, r->caller.org_id, write_project);
}

err_t api_projects_create(struct req *r)
{
	const struct project_in *in = r->in;
	char id[ID_LEN_MAX + 1];
	id_new(id, "prj");
	err_t err = name_taken(r, db_project_create(r->caller.org_id, id, in->name.s,
						    in->description.s ? in->description.s : "",
						    clock_now()));
	struct project p;
	if (err == ERR_OK)
		err = db_project_get(r->caller.org_id, id, &r->arena, &p);
	if (err != ERR_OK)
		return err;
	r->status = 201;
	write_project(&r->w, &p);
	return ERR_OK;
}

err_t api_project_find(struct req *r)
{
	struct project *p = arena_alloc(&r->arena, sizeof *p);
	if (!p)
		return ERR_INTERNAL;
	r->target = p;
	return db_project_get(r->caller.org_id, r->path_id, &r->arena, p);
}

err_t api_project_get(struct req *r)
{
	write_project(&r->w, r->target);
	return ERR_OK;
}

err_t api_project_update(struct req *r)
{
	const struct project_in *in = r->in;
	err_t err = name_taken(
		r, db_project_update(r->caller.org_id, r->path_id, in->name.s, in->description.s));
	if (err == ERR_OK)
		err = api_project_find(r);
	if (err == ERR_OK)
		write_project(&r->w, r->target);
	return err;
}

err_t api_project_delete(struct req *r)
{
	err_t err = db_project_delete(r->caller.org_id, r->path_id);
	if (err == ERR_OK)
		r->status = 204;
	return err;
}
