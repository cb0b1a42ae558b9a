/* log.c - key=value event lines to stderr or syslog, untrusted text escaped. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "date.h"
#include "log.h"

static int log_level = TD_LOG_INFO;
static int log_syslog;
static const char *log_ident = "tradedrop";
static const char *level_names[] = { "error", "warn", "info", "debug" };

void
td_log_init(const char *ident, int level, int to_syslog)
{
	log_ident = ident;
	log_level = level;
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

void
td_log_set_level(int level)
{
	log_level = level;
}

int
td_log_level_from_name(const char *s)
{
	size_t i;

	for (i = 0; i < TD_NELEM(level_names); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return TD_LOG_INFO;
}

/* Escape v into b; quote it when it is empty or has space, quote, =. */
static void
escape_into(struct td_buf *b, const char *v)
{
	const unsigned char *p;
	int quote = (*v == '\0');

	if (v == NULL) {
		td_buf_puts(b, "(null)");
		return;
	}
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p >= 0x7f)
			quote = 1;
	if (!quote) {
		td_buf_puts(b, v);
		return;
	}
	td_buf_putc(b, '"');
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			td_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			td_buf_puts(b, "\\n");
		else if (*p == '\r')
			td_buf_puts(b, "\\r");
		else if (*p == '\t')
			td_buf_puts(b, "\\t");
		else if (*p < ' ' || *p == 0x7f)
			td_buf_printf(b, "\\x%02x", *p);
		else
			td_buf_putc(b, *p);	/* UTF-8 passes through */
	}
	td_buf_putc(b, '"');
}

size_t
td_log_escape(char *dst, size_t n, const char *v)
{
	struct td_buf b;
	size_t len;

	td_buf_init(&b, 64, 0);
	escape_into(&b, v);
	len = b.len;
	if (n > 0) {
		if (len >= n)
			len = n - 1;
		memcpy(dst, b.p, len);
		dst[len] = '\0';
	}
	td_buf_free(&b);
	return len;
}

static void
format_into(struct td_buf *b, const char *fmt, va_list ap)
{
	const char *p;
	size_t n;

	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			td_buf_putc(b, *p);
			continue;
		}
		p++;
		if (*p == 's') {
			escape_into(b, va_arg(ap, const char *));
			continue;
		}
		if (*p == '%') {
			td_buf_putc(b, '%');
			continue;
		}
		n = strspn(p, "lz");
		if (n > 2 || (p[n] != 'd' && p[n] != 'u'))
			td_fatal("td_log: bad format \"%s\"", fmt);
		if (n == 0 && p[0] == 'd')
			td_buf_printf(b, "%d", va_arg(ap, int));
		else if (n == 0)
			td_buf_printf(b, "%u", va_arg(ap, unsigned));
		else if (p[0] == 'z' && p[1] == 'u')
			td_buf_printf(b, "%zu", va_arg(ap, size_t));
		else if (p[0] == 'z')
			td_fatal("td_log: bad format \"%s\"", fmt);
		else if (n == 1 && p[1] == 'd')
			td_buf_printf(b, "%ld", va_arg(ap, long));
		else if (n == 1)
			td_buf_printf(b, "%lu", va_arg(ap, unsigned long));
		else if (p[1] != 'l')
			td_fatal("td_log: bad format \"%s\"", fmt);
		else if (p[2] == 'd')
			td_buf_printf(b, "%lld", va_arg(ap, long long));
		else
			td_buf_printf(b, "%llu", va_arg(ap, unsigned long long));
		p += n;
	}
}

void
td_log(int level, const char *event, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	struct td_buf b;
	va_list ap;
	char ts[TD_RFC3339_MAX];

	if (level > log_level)
		return;
	td_buf_init(&b, 256, 65536);
	if (!log_syslog) {
		td_rfc3339((int64_t)time(NULL), ts);
		td_buf_printf(&b, "ts=%s ", ts);
	}
	td_buf_printf(&b, "level=%s event=%s", level_names[level], event);
	if (fmt != NULL && *fmt != '\0') {
		td_buf_putc(&b, ' ');
		va_start(ap, fmt);
		format_into(&b, fmt, ap);
		va_end(ap);
	}
	if (log_syslog)
		syslog(prio[level], "%s", td_buf_cstr(&b));
	else {
		td_buf_putc(&b, '\n');
		(void)!write(STDERR_FILENO, b.p, b.len);
	}
	td_buf_free(&b);
}
