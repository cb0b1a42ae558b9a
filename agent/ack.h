/*
 * ack.h - X12 997 functional acknowledgments: one per functional group
 * of a drop, built while the drop is read (parse-x12.c) and written,
 * with our own control numbers from state.db, into the transmission's
 * archive directory (ack/) by intake.
 *
 * A 997 reports syntax: AK1 names the group (GS01, GS06), an AK2/AK5
 * pair each transaction set read (AK5*A, or R with the code of its
 * fault), AK3 a segment at fault, AK9 the group (A, P or R; sets
 * included, received, accepted; the group's fault code). The reader
 * stops at the first fault, so a file's 997s cover its groups up to and
 * including the one at fault; a fault outside a group (ISA, IEA, a GS
 * without its control number) has none (that is the TA1's business).
 */
#ifndef TD_ACK_H
#define TD_ACK_H

#include <stddef.h>

struct x12;
struct x12_seg;
struct td_ctx;
struct proc_result;

struct ack_builder;
struct ack_group;

struct ack_builder *ack_builder_new(void);
void		 ack_builder_free(struct ack_builder *);
/*
 * A segment that passed the envelope checks. Returns the group's 997
 * when the segment is its GE (transferred), else NULL.
 */
struct ack_group *ack_segment(struct ack_builder *, const struct x12_seg *);
/*
 * The reader x stopped at a fault: the 997 of the group it was in,
 * rejected (transferred), or NULL when it was in none.
 */
struct ack_group *ack_fault(struct ack_builder *, const struct x12 *);
void		 ack_group_free(struct ack_group *);
/* AK901: 'A', 'P' or 'R'. */
char		 ack_group_status(const struct ack_group *);
/*
 * A group as bytes, for the parser child's socket, and back: unpack
 * checks what the child sent as untrusted (elements as the builder
 * copies them, a status, a body of the segments the builder writes and
 * no others) and returns NULL when it is not so.
 */
struct td_buf;
void		 ack_group_pack(const struct ack_group *, struct td_buf *);
struct ack_group *ack_group_unpack(const char *, size_t);
/* The most bytes ack_group_pack writes for one group (ACK_MAX_SETS). */
size_t		 ack_group_packed_max(void);

/*
 * The 997 text of g as interchange ctl (1 to 999999999): ISA (our id
 * and qualifier, the drop's as receiver), GS*FA, ST*997 ... SE, GE,
 * IEA. our_id/our_q NULL: the id and qualifier the drop addressed us
 * by (its ISA08, ISA07). now: seconds since the epoch. Allocated.
 */
char		*ack_text(const struct ack_group *g, unsigned long ctl,
		    const char *our_q, const char *our_id, long long now);

/*
 * Write the 997s of res (proc_result acks) into
 * STATE_DIR/ARCHIVE_DIR/ack/997-CTL.x12, durable, each with its own
 * interchange control number from state.db (monotonic, never reused;
 * the same again when the transmission is processed again). 0 or a
 * negative TD_ERR_*.
 */
int		 ack_write(struct td_ctx *, const char *tid,
		    const char *archive_dir, const struct proc_result *);

#endif
