/*
 * landing.h - the edge of the landing directory: what is taken, what is
 * refused, and the claim that moves a file out of the retailer's reach.
 *
 * Everything is done relative to a descriptor of landing_dir and of the
 * claim directory, never by following a path: a name in landing is only
 * ever a name, whatever an uploader swaps in under it.
 */
#ifndef TD_LANDING_H
#define TD_LANDING_H

#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#define PARTIAL_NAME	".td-partial"	/* a copy under way in work/CLAIM/ */
#define SIDECAR_COPY_MAX (1 << 20)	/* largest sidecar taken */

struct td_ctx;
struct td_conf;
struct stat;

struct landing_entry {
	char		*name;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;
};

/*
 * What intake makes of a landing file by its name alone, by [watch]
 * pattern and ignore: LANDING_TAKEN, or why it is never taken as a
 * transmission. The one rule for landing_list, `try` and the SFTP
 * sources, which must not land what it would leave there for good.
 */
enum landing_name {
	LANDING_TAKEN,
	LANDING_IGNORED,	/* matches [watch] ignore */
	LANDING_SIDECAR,	/* taken with its data file, never alone */
	LANDING_UNMATCHED,	/* matches no [watch] pattern */
	LANDING_OWN		/* one of the daemon's own names there */
};
enum landing_name landing_name_class(const struct td_conf *,
	    const char *name);
/*
 * The names of an SFTP download of NAME in landing, ".NAME" and one of
 * these: sftp.c writes them, landing_own_name() never takes them.
 */
#define LANDING_PART		".part"		/* its bytes so far */
#define LANDING_PART_INFO	".part.info"	/* what a resume may keep */
#define LANDING_PART_TMP	".part.tmp"	/* the .part.info being written */

/*
 * Is name one the daemon itself writes in landing: an SFTP download's
 * .NAME.part, .NAME.part.info or .NAME.part.tmp, or the temporary
 * .td-HEX.tmp of a file written where its fixed temporary name was held
 * (fsutil)? Never taken, whatever [watch] says.
 */
int	landing_own_name(const char *name);

/* The uids of [watch] owner (names or numbers). */
int	landing_owner_uids(const struct td_conf *, uid_t **, size_t *,
	    char **errp);
/* Open landing_dir and resolve [watch] owner. Prints errors. */
int	landing_open(struct td_ctx *);
void	landing_close(struct td_ctx *);
/*
 * Is landing_dir still the directory opened? When its path names
 * another one now (moved away and made again, a file system mounted on
 * it or unmounted from it), open that one and give back the descriptor
 * of the old one in *oldfdp (else -1), so that what is left in it is
 * taken before it is closed. A path that names nothing is logged once
 * and the old descriptor kept.
 */
int	landing_follow(struct td_ctx *, int *oldfdp);

/*
 * Look at the wall clock: its offset from CLOCK_MONOTONIC now, against
 * *skewp, the offset at the last look (ms; 0: none yet). A difference of
 * more than 5 s is a step of the wall clock: logged (clock_step) and
 * *steppedp set, after which file times are not taken as ages. *skewp
 * becomes the offset now. The daemon's loop looks too, when it starts an
 * intake worker, and hands the worker its *skewp and *steppedp, so that
 * a step between two workers' listings is seen (CLOCK_MONOTONIC is the
 * same for every process).
 */
void	landing_clock(int64_t *skewp, int *steppedp);

/*
 * The regular files of landing ready to be taken, oldest first. Entries
 * that are refused (links, FIFOs, devices, directories, other owners)
 * are logged once each. *settle_at gets the earliest time a file not yet
 * settled may be taken (0: none is waiting to settle).
 */
int	landing_list(struct td_ctx *, struct landing_entry **, size_t *,
	    int64_t *settle_at);
void	landing_list_free(struct landing_entry *, size_t);

/*
 * Claim e: open it without following links, check it is still the
 * settled regular file that was listed, not open for writing where the
 * kernel can tell, and move it into a new work/CLAIM/ directory. *fdp
 * gets a read descriptor of the claimed file, *claimp the claim name.
 * TD_ERR_NOTFOUND: it is gone; TD_ERR_AGAIN: not settled, try later;
 * TD_ERR_FORMAT: refused (logged); other errors: the claim failed.
 */
int	landing_claim(struct td_ctx *, const struct landing_entry *,
	    char **claimp, int *fdp, int defer);
/*
 * With defer set, landing_claim leaves out its last two flushes (work/,
 * then landing/), which landing_claim_sync makes once for every claim
 * deferred since: it must come before any of them is received.
 */
int	landing_claim_sync(struct td_ctx *);

/*
 * Give a claim back: every entry of work/CLAIM/ returns to landing under
 * its own name (or NAME.td-returned-CLAIM when that name was taken again
 * meanwhile), and the claim directory is removed.
 */
int	landing_unclaim(struct td_ctx *, const char *claim);

/*
 * A claim a stop left in work/CLAIM/NAME may still be the uploader's
 * inode (the stop came between the rename and the copy or the change of
 * owner): give it a private copy. TD_ERR_AGAIN: it changed meanwhile and
 * went back to landing.
 */
int	landing_secure_claimed(struct td_ctx *, const char *claim,
	    const char *name);

/* Check an open landing file: regular, one link, [watch] owner. */
const char *landing_check_fd(struct td_ctx *, int fd, struct stat *);
/* The same for a claimed file, without the owner (it was made ours). */
const char *landing_check_claimed(struct td_ctx *, int fd, struct stat *);

/*
 * Take the small file NAME (a sidecar) by copying it from a checked
 * descriptor into dir, then remove it from landing. 0: taken or gone;
 * TD_ERR_FORMAT: refused (logged); others: the copy failed.
 */
int	landing_take_copy(struct td_ctx *, const char *name, const char *dir,
	    size_t max);

/* Log a refusal of NAME once per run (per name, inode and mtime). */
void	landing_refuse(struct td_ctx *, const char *name,
	    const struct stat *, const char *why);

#endif
