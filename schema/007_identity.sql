-- Identity (API.md "Sessions", "Email", "Organizations and members"): verified email
-- addresses, single-use email tokens stored as their SHA-256 only, invitations with an
-- id and an expiry that only their verified addressee accepts, the outbox of messages,
-- and the sign-in throttle keyed by client address too.

-- users created before verification existed count as verified
ALTER TABLE users ADD COLUMN email_verified TINYINT(1) NOT NULL DEFAULT 0 AFTER email;
UPDATE users SET email_verified = 1;

CREATE TABLE email_tokens (
  hash       BINARY(32)  NOT NULL,
  user_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  kind       ENUM('verify', 'reset') CHARACTER SET ascii NOT NULL,
  created_at DATETIME    NOT NULL,
  expires_at DATETIME    NOT NULL,
  used_at    DATETIME    NULL,
  PRIMARY KEY (hash),
  KEY email_tokens_user (user_id, kind, created_at),
  CONSTRAINT email_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- a password-reset request is one row, the same write whether or not the address has
-- an account; the mailer then issues the token and the message (or nothing), at most
-- five a day per email
CREATE TABLE reset_requests (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  email        VARCHAR(254)    NOT NULL,
  at           DATETIME        NOT NULL,
  processed_at DATETIME        NULL,
  PRIMARY KEY (id),
  KEY reset_requests_email_at (email, at),
  KEY reset_requests_todo (processed_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- an invitation is a membership row with status 'invited', its own id and an expiry;
-- accepting it sets user_id and makes it active
ALTER TABLE memberships
  ADD COLUMN invite_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_nopad_bin NULL AFTER seq,
  ADD COLUMN invited_by VARCHAR(32) CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  ADD COLUMN expires_at DATETIME NULL,
  ADD UNIQUE KEY memberships_invite (invite_id);
UPDATE memberships SET invite_id = CONCAT('inv_', ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7'), ELT(1 + FLOOR(RAND() * 32), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '2', '3', '4', '5', '6', '7')),
  expires_at = UTC_TIMESTAMP() + INTERVAL 7 DAY WHERE status = 'invited';

-- messages, written in the transaction of the change that causes them and delivered
-- by the mailer; the body is emptied once it is sent (it holds a token's link)
CREATE TABLE outbox (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  to_email   VARCHAR(254) NOT NULL,
  subject    VARCHAR(255) NOT NULL,
  body       MEDIUMTEXT   NOT NULL,
  created_at DATETIME     NOT NULL,
  next_at    DATETIME     NOT NULL,   -- not before: the backoff, or a mailer's lease
  attempts   INT          NOT NULL DEFAULT 0,
  sent_at    DATETIME     NULL,
  failed_at  DATETIME     NULL,       -- gave up after the last attempt
  PRIMARY KEY (id),
  UNIQUE KEY outbox_message_id (message_id),
  KEY outbox_due (sent_at, failed_at, next_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE login_failures
  ADD COLUMN addr VARCHAR(64) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL DEFAULT '' AFTER email,
  ADD KEY login_failures_email_addr_at (email, addr, at),
  ADD KEY login_failures_addr_at (addr, at);
