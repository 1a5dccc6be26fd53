-- Indexes for the hot statements (EXPLAIN of src/db/sql.c's pages, the dashboard and the
-- session queries): each list is read in seq order within its organization (or user)
-- from an index, with no filesort; the dashboard's counts are read from an index alone.
-- InnoDB appends the primary key (seq) to every secondary index, so (org_id) alone would
-- already be in seq order; these name it and carry what the filters need.

CREATE INDEX environments_org_seq ON environments (org_id, seq);
CREATE INDEX projects_org_seq ON projects (org_id, seq);
CREATE INDEX memberships_org_status_role ON memberships (org_id, status, role);
CREATE INDEX memberships_user_status ON memberships (user_id, status);
