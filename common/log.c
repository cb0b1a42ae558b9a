/* log.c - key=value event lines to stderr or syslog, untrusted text escaped. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "clock.h"
#include "buf.h"
#include "date.h"
#include "json.h"
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

/*
 * Does the well-formed UTF-8 sequence at p (len bytes) encode a
 * character that changes how a log line reads: a C1 control (U+0080 to
 * U+009F), the line or paragraph separator (U+2028, U+2029), or a
 * bidirectional control (U+200E, U+200F, U+202A to U+202E, U+2066 to
 * U+2069)? Those are escaped byte by byte like invalid UTF-8.
 */
static int
utf8_unsafe(const unsigned char *p, size_t len)
{
	if (len == 2)
		return p[0] == 0xc2 && p[1] <= 0x9f;
	if (len != 3 || p[0] != 0xe2)
		return 0;
	if (p[1] == 0x80)
		return p[2] == 0x8e || p[2] == 0x8f ||
		    (p[2] >= 0xa8 && p[2] <= 0xae);
	return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9;
}

/*
 * Escape v into b; quote it when it is empty or has a space, a quote,
 * '=', '\\', a control character or a non-ASCII byte. Inside the quotes
 * well-formed UTF-8 text passes through; every byte that is not part of
 * it, and every control character, is written as \xHH.
 */
static void
escape_into(struct td_buf *b, const char *v)
{
	const unsigned char *p, *end;
	size_t k;
	int quote;

	if (v == NULL) {
		td_buf_puts(b, "(null)");
		return;
	}
	quote = (*v == '\0');
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p >= 0x7f)
			quote = 1;
	if (!quote) {
		td_buf_puts(b, v);
		return;
	}
	end = p;
	td_buf_putc(b, '"');
	for (p = (const unsigned char *)v; p < end; p++) {
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
		else if (*p < 0x80)
			td_buf_putc(b, *p);
		else if ((k = td_utf8_len(p, (size_t)(end - p))) != 0 &&
		    !utf8_unsafe(p, k)) {
			td_buf_append(b, p, k);
			p += k - 1;
		} else
			td_buf_printf(b, "\\x%02x", *p);
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
		td_rfc3339(td_time(), ts);
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
