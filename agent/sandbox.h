/*
 * sandbox.h - the parser child: untrusted bytes (unpack, decode, CSV,
 * X12, map) are processed in a child process that has no network and
 * writes only through the descriptors it is handed, as OpenSSH's
 * sandbox does: PR_SET_NO_NEW_PRIVS, a seccomp allow-list (libseccomp,
 * when built --with-sandbox=seccomp), resource limits, every other
 * descriptor closed. It streams its batches, rejections and result to
 * the caller, whose sink writes them. A crash or a limit hit in the
 * child fails that one file as Tier 2 parser_crashed.
 */
#ifndef TD_SANDBOX_H
#define TD_SANDBOX_H

#include <stddef.h>

struct mapper;
struct td_conf;
struct proc_opts;
struct proc_sink;
struct proc_result;

/* As process_file(), with the parsing done in a sandboxed child. */
int	sandbox_process_file(struct mapper *, const struct td_conf *, int fd,
	    const struct proc_opts *, const struct proc_sink *,
	    struct proc_result *);

/*
 * The job (a landing pass, the files pending) is over: the child kept
 * for its next small file (proc_opts.signer) is ended.
 */
void	sandbox_release(void);

/* "seccomp" or "none": what this build confines the child with. */
const char *sandbox_kind(void);

/* Close every descriptor above 2 but the n in keep. */
void	sandbox_close_fds(const int *keep, size_t n);

#endif
