/*
 * mailer: `orgd --mailer`, the process that delivers the outbox (API.md
 * "Email"), beside the FastCGI master (a separate process so that it runs on
 * as many hosts as one likes, or one, and no worker ever waits on SMTP). A
 * small supervisor keeps one mailer child running, restarting it at once if
 * it dies. The child turns password-reset requests into tokens and
 * messages, claims due messages under a lease, sends each over SMTP with no
 * transaction open, and marks it sent or due again after a backoff. A
 * request never waits on SMTP; a mailer killed mid-delivery leaves its rows
 * to the next one when the lease ends (same Message-ID).
 */
#ifndef ORGD_MAILER_H
#define ORGD_MAILER_H

/* Supervise mailer children until SIGTERM (or SIGINT); the exit status. */
int mailer_main(void);

#endif
