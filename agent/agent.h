/* agent.h - subcommands and shared helpers of the tradedrop binary. */
#ifndef TD_AGENT_H
#define TD_AGENT_H

#include <stddef.h>

struct td_conf;

/* Exit codes of `once` (SPEC section 2). */
#define EXIT_ONCE_OK		0
#define EXIT_ONCE_REJECTS	1
#define EXIT_USAGE		2
#define EXIT_ONCE_UNDELIVERED	3
#define EXIT_INTERNAL		4

const char	*td_default_conf(void);
struct option;
int	cmd_conf_opt(int, char **, const char *usage, const char **path,
	    const struct option *extra, int *flag);
struct td_conf	*td_load_conf_or_report(const char *path);

int	cmd_check(int, char **);
int	cmd_once(int, char **);
int	cmd_try(int, char **);
int	cmd_status(int, char **);
int	cmd_run(int, char **);

struct td_ctx;
/* Poll SFTP source i once and log it: 0, or -1 when it failed. */
int	cmd_poll_source(struct td_ctx *, size_t i);

#endif
