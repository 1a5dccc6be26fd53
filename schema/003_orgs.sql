-- Organizations and their members, projects, environments and audit log.
-- Every table below orgs is keyed by org_id first: the shard key, should one
-- database ever be too few. Roles are stored as enum role's numbers:
-- 1 member, 2 admin, 3 owner.

CREATE TABLE orgs (
  id             VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  name           VARCHAR(100) NOT NULL,
  plan_id        VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL DEFAULT 'free',
  credit_balance BIGINT       NOT NULL DEFAULT 0,
  created_at     DATETIME     NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT orgs_balance_nonnegative CHECK (credit_balance >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE memberships (
  seq      BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
  org_id   VARCHAR(32)      CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  user_id  VARCHAR(32)      CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  email    VARCHAR(254)     NOT NULL,
  role     TINYINT UNSIGNED NOT NULL,
  status   ENUM('invited', 'active') CHARACTER SET ascii NOT NULL,
  added_at DATETIME         NOT NULL,
  PRIMARY KEY (seq),
  UNIQUE KEY memberships_org_email (org_id, email),
  UNIQUE KEY memberships_org_user (org_id, user_id),
  KEY memberships_user (user_id),
  KEY memberships_email (email),
  CONSTRAINT memberships_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
  CONSTRAINT memberships_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT memberships_role CHECK (role BETWEEN 1 AND 3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE projects (
  seq         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id          VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  org_id      VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  name        VARCHAR(100)    NOT NULL,
  description VARCHAR(1000)   NOT NULL DEFAULT '',
  created_at  DATETIME        NOT NULL,
  PRIMARY KEY (seq),
  UNIQUE KEY projects_id (id),
  UNIQUE KEY projects_org_name (org_id, name),
  CONSTRAINT projects_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE environments (
  seq        BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id         VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  org_id     VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  name       VARCHAR(100)    NOT NULL,
  kind       ENUM('development', 'staging', 'production') CHARACTER SET ascii NOT NULL,
  region     VARCHAR(64)     NOT NULL,
  status     VARCHAR(32)     CHARACTER SET ascii NOT NULL DEFAULT 'active',
  created_at DATETIME        NOT NULL,
  PRIMARY KEY (seq),
  UNIQUE KEY environments_id (id),
  UNIQUE KEY environments_org_name (org_id, name),
  CONSTRAINT environments_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE audit_log (
  seq           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id            VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  org_id        VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  at            DATETIME        NOT NULL,
  actor_user_id VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  action        VARCHAR(64)     CHARACTER SET ascii NOT NULL,
  target        VARCHAR(254)    NOT NULL,
  detail        VARCHAR(1000)   NOT NULL DEFAULT '',
  PRIMARY KEY (seq),
  UNIQUE KEY audit_log_id (id),
  KEY audit_log_org (org_id, seq),
  CONSTRAINT audit_log_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
