/* agent.h - subcommands and shared helpers of the tradedrop binary. */
#ifndef TD_AGENT_H
#define TD_AGENT_H

#include <stddef.h>

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
int	cmd_hold(int, char **);
int	cmd_prune(int, char **);
int	cmd_replay(int, char **);

/* Deliver what can be delivered, waiting out each retry's backoff. */
void	deliver_all(struct td_ctx *);
/* The full id of an id or unique prefix; errors on stderr. */
int	cmd_resolve(struct store *, const char *sql, const char *what,
	    const char *id, char *out, size_t len);
/* The verbs of `quarantine` and `hold`, run by cmd_decide_main. */
struct cmd_verbs {
	const char	*name, *usage;
	const char	*yes, *no;	/* release drop, approve reject */
	int		 yes_reason;	/* yes needs --reason too */
	const char	*empty;		/* what list says of nothing */
	int		(*list)(struct store *);
	int		(*show)(struct store *, const struct td_conf *,
			    const char *id);
	int		(*decide)(struct td_conf *, const char *verb,
			    const char *id, const char *reason);
};
int	cmd_decide_main(int, char **, const struct cmd_verbs *);
/* ctx_open for a decision: 0, or the exit status (the error said). */
int	cmd_ctx_open(struct td_ctx *, struct td_conf *);
/* Who decides (audited): the user behind sudo, or this process's. */
const char *cmd_decider(void);
int	cmd_run(int, char **);

/*
 * Retention (cmd-prune.c), by `prune` and by the daemon's intake worker:
 * the archive entries and dead letters of delivered transmissions
 * received more than retain_days ago, none with a record held (a
 * quarantined or dropped one is never delivered). PRUNE_DRY lists them
 * ("would prune ...", stdout) from st, which may be read-only, and x is
 * NULL; else they are removed and audited (archive_pruned) through x,
 * each printed (PRUNE_PRINT) or logged as event=archive_pruned
 * (PRUNE_LOG). *n: how many (pruned before a failure, or listed).
 * Returns 0 or a TD_ERR_*; a failure stops the run.
 */
#define PRUNE_DRY	0
#define PRUNE_PRINT	1
#define PRUNE_LOG	2
int	prune_expired(const struct td_conf *c, struct store *st,
	    struct td_ctx *x, int how, size_t *n);

struct td_ctx;
/* Poll SFTP source i once and log it: 0, or -1 when it failed. */
int	cmd_poll_source(struct td_ctx *, size_t i);
/*
 * s as it may be printed on an operator's terminal: as it is when it is
 * printable ASCII, else escaped and quoted as a logged value (a file
 * name, a message quoting a file, are the sender's text); *tmp is what
 * to free.
 */
const char *cmd_tty(const char *s, char **tmp);

#endif
