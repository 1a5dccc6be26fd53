-- Users, their sessions, and sign-in attempts (the login throttle: an attempt
-- stays recorded when it failed).
-- Ids are opaque ASCII strings (id.h); emails are stored normalised (trimmed,
-- lower-cased), so a binary collation makes them unique as users see them.

CREATE TABLE users (
  id            VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  email         VARCHAR(254) NOT NULL,
  name          VARCHAR(100) NOT NULL,
  password_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  created_at    DATETIME     NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE sessions (
  id         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  user_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  created_at DATETIME    NOT NULL,
  expires_at DATETIME    NOT NULL,
  revoked_at DATETIME    NULL,
  PRIMARY KEY (id),
  KEY sessions_user (user_id),
  CONSTRAINT sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE login_failures (
  id    BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  email VARCHAR(254)    NOT NULL,
  at    DATETIME        NOT NULL,
  PRIMARY KEY (id),
  KEY login_failures_email_at (email, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
