/*
 * master: the orgd master process. Opens the FastCGI socket, forks
 * cfg.workers workers, restarts a worker that dies at once, reloads keys and
 * replaces every worker on SIGHUP, and on SIGTERM/SIGINT lets every worker
 * finish its request in flight and exits 0. Holds no request state and no
 * database connection.
 */
#ifndef ORGD_MASTER_H
#define ORGD_MASTER_H

/* Run until stopped. Returns the process exit status. */
int master_run(void);

#endif
