/*
 * worker: one FastCGI worker process: an accept loop over the inherited
 * listening socket, one database connection, the key ring it was forked with.
 */
#ifndef ORGD_WORKER_H
#define ORGD_WORKER_H

struct keyring;

/* Serve requests on listen_fd until SIGTERM; returns the exit status. */
int worker_run(int listen_fd, struct keyring *keys, int slot);

#endif
