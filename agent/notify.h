/*
 * notify.h - telling the service manager how the daemon is: systemd's
 * sd_notify (READY, RELOADING, STOPPING, WATCHDOG, STATUS, EXTEND_TIMEOUT)
 * when built with libsystemd and started by it; nothing otherwise. The
 * pidfile is written either way.
 */
#ifndef TD_NOTIFY_H
#define TD_NOTIFY_H

#include <stdint.h>

void	notify_ready(void);
void	notify_reloading(void);
void	notify_stopping(void);
void	notify_status(const char *text);
void	notify_extend_ms(uint64_t);
/* Milliseconds between WATCHDOG=1 pings systemd wants (0: none). */
uint64_t notify_watchdog_ms(void);
void	notify_watchdog(void);

/* Write our pid to path atomically; 0 or TD_ERR_IO (logged). */
int	notify_pidfile(const char *path);

#endif
