/*
 * log.h - one line per event: level=... event=... key=value ...
 *
 * td_log(level, event, fmt, ...) takes a printf-like fmt of key=value
 * pairs in which every %s argument is untrusted: it is escaped and quoted
 * as needed. Supported conversions: %s %d %u %ld %lu %lld %llu %zu %%.
 * Never pass a secret.
 */
#ifndef TD_LOG_H
#define TD_LOG_H

#define TD_LOG_ERROR	0
#define TD_LOG_WARN	1
#define TD_LOG_INFO	2
#define TD_LOG_DEBUG	3

/* to: 0 stderr, 1 syslog */
void	td_log_init(const char *ident, int level, int to_syslog);
void	td_log_set_level(int);
int	td_log_level_from_name(const char *);
void	td_log(int level, const char *event, const char *fmt, ...);
/* Append value v to dst (size n) escaped as it would be logged. */
size_t	td_log_escape(char *dst, size_t n, const char *v);

#endif
