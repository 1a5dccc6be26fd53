-- Metering, the credit ledger, idempotency keys, and each organization's
-- billing settings (API.md "Plans, usage and runs", "Credits and billing").
-- The balance on orgs always equals the sum of the organization's ledger:
-- every change of one is a row of the other, in the same transaction.

CREATE TABLE usage_months (
  org_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  period       CHAR(7)     CHARACTER SET ascii NOT NULL,   -- 'YYYY-MM', UTC
  runs         BIGINT      NOT NULL DEFAULT 0,
  overage_runs BIGINT      NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, period),
  CONSTRAINT usage_months_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE runs (
  seq             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id              VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  org_id          VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  project_id      VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  environment_id  VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  period          CHAR(7)         CHARACTER SET ascii NOT NULL,
  counted_as      ENUM('included', 'overage') CHARACTER SET ascii NOT NULL,
  credits_charged BIGINT          NOT NULL,
  created_at      DATETIME        NOT NULL,
  PRIMARY KEY (seq),
  UNIQUE KEY runs_id (id),
  KEY runs_org (org_id, seq),
  CONSTRAINT runs_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE ledger (
  seq           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id            VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  org_id        VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  at            DATETIME        NOT NULL,
  delta         BIGINT          NOT NULL,
  balance_after BIGINT          NOT NULL,
  reason        ENUM('purchase', 'auto_recharge', 'run_overage', 'adjustment')
                CHARACTER SET ascii NOT NULL,
  ref           VARCHAR(64)     CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL DEFAULT '',
  PRIMARY KEY (seq),
  UNIQUE KEY ledger_id (id),
  KEY ledger_org (org_id, seq),
  CONSTRAINT ledger_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
  CONSTRAINT ledger_balance_nonnegative CHECK (balance_after >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per (organization, Idempotency-Key): the request's digest and the
-- first answer, written in the transaction of the effect it guards.
CREATE TABLE idempotency_keys (
  org_id       VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  idem_key     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  request_hash BINARY(32)   NOT NULL,
  status       SMALLINT     NOT NULL,
  response     MEDIUMTEXT   NOT NULL,
  created_at   DATETIME     NOT NULL,
  PRIMARY KEY (org_id, idem_key),
  KEY idempotency_keys_created (created_at),
  CONSTRAINT idempotency_keys_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Billing settings; the payment method arrives with the payments work.
CREATE TABLE org_billing (
  org_id              VARCHAR(32) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  customer_id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  pm_id               VARCHAR(64) CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  pm_brand            VARCHAR(32) NULL,
  pm_last4            CHAR(4)     CHARACTER SET ascii NULL,
  ar_enabled          TINYINT(1)  NOT NULL DEFAULT 0,
  ar_threshold        BIGINT      NOT NULL DEFAULT 0,
  ar_recharge         BIGINT      NOT NULL DEFAULT 0,
  ar_failures         INT         NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id),
  CONSTRAINT org_billing_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
