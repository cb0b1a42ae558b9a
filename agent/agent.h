/* agent.h - subcommands and shared helpers of the tradedrop binary. */
#ifndef TD_AGENT_H
#define TD_AGENT_H

struct td_conf;
struct td_ctx;
struct store;

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
int	cmd_quarantine(int, char **);
int	cmd_audit(int, char **);

/* Deliver what can be delivered, waiting out each retry's backoff. */
void	deliver_all(struct td_ctx *);
/* The full transmission id of an id or unique prefix; errors on stderr. */
int	cmd_resolve_tid(struct store *, const char *id, char out[65]);

#endif
