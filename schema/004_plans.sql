-- The plan catalog (API.md "Plans, usage and runs"), seeded, and every
-- organization's plan bound to it.

CREATE TABLE plans (
  id                      VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_nopad_bin NOT NULL,
  name                    VARCHAR(100) NOT NULL,
  monthly_run_limit       BIGINT       NOT NULL,
  price_cents             BIGINT       NOT NULL,
  overage_credits_per_run BIGINT       NOT NULL,
  position                INT          NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO plans (id, name, monthly_run_limit, price_cents, overage_credits_per_run, position)
VALUES ('free', 'Free', 1000, 0, 2, 1),
       ('pro', 'Pro', 50000, 4900, 1, 2),
       ('enterprise', 'Enterprise', 1000000, 49900, 1, 3);

ALTER TABLE orgs ADD CONSTRAINT orgs_plan FOREIGN KEY (plan_id) REFERENCES plans (id);
