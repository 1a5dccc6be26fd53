-- Payments (API.md "Credits and billing", "Payment provider", "Webhooks", "Auto-recharge").
--
-- A purchase is written 'pending' before the provider is called and settled after
-- (succeeded: credited with a ledger row, or the plan applied; failed: with the
-- provider's code), in two transactions with the call between them. Its provider key
-- is the Idempotency-Key every call for it sends, unique: a retry, the reconciliation
-- sweep and a webhook all find the same purchase. Webhook events are recorded under
-- their id in the transaction of their effect, so a repeated event changes nothing.

ALTER TABLE orgs
  ADD COLUMN current_period_end DATETIME NULL AFTER plan_id;

-- auto-recharge: ar_dip counts the recharges that succeeded (a new dip below the
-- threshold starts after each), ar_last_at is the last attempt's start; renewals: the
-- declines in a row of the current period and when the next try may run
ALTER TABLE org_billing
  ADD COLUMN ar_dip           BIGINT   NOT NULL DEFAULT 0 AFTER ar_failures,
  ADD COLUMN ar_last_at       DATETIME NULL AFTER ar_dip,
  ADD COLUMN renewal_failures INT      NOT NULL DEFAULT 0,
  ADD COLUMN renewal_next_at  DATETIME NULL;

CREATE TABLE purchases (
  seq          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  id           VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  org_id       VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  kind         ENUM('credits', 'auto_recharge', 'plan') CHARACTER SET ascii NOT NULL,
  credits      BIGINT       NOT NULL,
  amount_cents BIGINT       NOT NULL,
  plan_id      VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  status       ENUM('pending', 'succeeded', 'failed') CHARACTER SET ascii NOT NULL,
  failure_code VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  provider_key VARCHAR(160) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  intent_id    VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  idem_key     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  -- what the charge is sent with: reconciliation repeats exactly the same request
  customer_id  VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  pm_id        VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  -- a renewal: the end of the period it renews (the next period ends a month later)
  period_from  DATETIME     NULL,
  created_at   DATETIME     NOT NULL,
  settled_at   DATETIME     NULL,
  checked_at   DATETIME     NULL,  -- when reconciliation last asked the provider
  PRIMARY KEY (seq),
  UNIQUE KEY purchases_id (id),
  UNIQUE KEY purchases_provider_key (provider_key),
  UNIQUE KEY purchases_org_idem (org_id, idem_key),
  KEY purchases_org (org_id, seq),
  KEY purchases_pending (status, created_at),
  KEY purchases_org_plan (org_id, kind, plan_id, status),
  CONSTRAINT purchases_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
  CONSTRAINT purchases_amount CHECK (amount_cents > 0 AND credits >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE webhook_events (
  id          VARCHAR(255) CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  type        VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  purchase_id VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NULL,
  outcome     VARCHAR(32)  CHARACTER SET ascii NOT NULL,
  received_at DATETIME     NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- the sweeps' candidates: auto-recharge on, least recently attempted first; paid
-- plans by the end of their period
CREATE INDEX org_billing_ar ON org_billing (ar_enabled, ar_last_at);
CREATE INDEX orgs_period_end ON orgs (current_period_end);
