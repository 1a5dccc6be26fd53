/*
 * log: one-line structured logs to stderr ("ts=... level=... pid=... msg=...").
 * Callers never pass secrets, tokens, passwords or request bodies.
 */
#ifndef ORGD_LOG_H
#define ORGD_LOG_H

enum log_level { LOG_INFO, LOG_WARN, LOG_ERROR, LOG__MAX };

/* Write one line: the level, the pid, then fmt's text (key=value pairs by convention). */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
