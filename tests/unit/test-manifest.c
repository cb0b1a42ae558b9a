/*
 * test-manifest.c - the manifest of a transmission built from a state.db
 * made here: byte for byte the manifest tradedrop 0.1.0 wrote for a.csv
 * of tests/e2e/once.sh; an archive's members in order, a name that is
 * not UTF-8 as null, escaped file names; batches the reconciler refused
 * counted as dead-lettered and left out of the control totals, the same
 * before and after the transmission is recorded delivered; a
 * transmission processed before its members were kept in state.db has
 * them read from its archived manifest once; nothing for one that is
 * not processed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "td.h"
#include "fsutil.h"
#include "store.h"
#include "ctx.h"
#include "deliver.h"
#include "manifest.h"

#define TID_A	"a56f95a2bebaccb3a6d92922cd4816cb2a54d34f9c340f2d503b4adc12bdaf68"
#define MV_A	"dc5c7847956bee8fe5b7d18bec5c536f9cabbc210b16a7d1474b69b219b5e391"
#define TID_Z	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* What 0.1.0 delivered for a.csv (received 2026-12-04T20:55:23Z). */
static const char manifest_a[] =
    "{\"schema\":\"tradedrop.transmission.v1\",\"integration\":\"acme\","
    "\"transmission_id\":\"" TID_A "\",\"file\":{\"name\":\"a.csv\","
    "\"size\":265,\"sha256\":\"" TID_A "\"},\"source\":\"landing\","
    "\"received_at\":\"2026-12-04T20:55:23Z\",\"verification\":"
    "{\"checksum\":\"absent\",\"signature\":\"off\"},\"encoding\":"
    "\"utf-8\",\"container\":\"raw\",\"format\":\"csv\","
    "\"mapping_version\":\"" MV_A "\",\"counts\":{\"records\":3,"
    "\"delivered\":3,\"dlq\":0,\"held\":0,\"duplicate\":0},"
    "\"control_totals\":{\"quantity\":\"1202\",\"amount\":\"1240.97\"},"
    "\"members\":[{\"member\":null,\"encoding\":\"utf-8\",\"records\":3,"
    "\"delivered\":3,\"dlq\":0}],\"batch_encoding\":\"gzip\","
    "\"batches\":2,\"batch_list\":[{\"seq\":1,\"records\":2,\"bytes\":613,"
    "\"sha256\":\"9af64cd3db1697a024da4bb2c798684483a824da72c969be60e5975c"
    "18d28586\",\"idempotency_key\":\"2f060c0339157b0c08ff7272931fcd0c18ce"
    "d741b290e9d6d194b6eab90817b1\"},{\"seq\":2,\"records\":1,\"bytes\":"
    "474,\"sha256\":\"70b9db6779529f11f6b804820b76ca1e354a6e240ad7d2d04dba3"
    "36cb31dedd9\",\"idempotency_key\":\"9f5ee57025df4b08d0b00fc48d9d7447c9"
    "f02facbb7aaa9846ac15401e95db90\"}]}\n";

static void
exec_ok(struct td_ctx *x, const char *sql)
{
	if (store_exec(x->st, sql) != 0)
		td_fatal("%s: %s", sql, store_errmsg(x->st));
}

static void
add_batch(struct td_ctx *x, const char *tid, const char *mv, uint64_t seq,
    uint64_t records, uint64_t bytes, const char *sha, const char *q,
    const char *a)
{
	sqlite3_stmt *s;
	char *k = deliver_batch_key(tid, mv, seq);

	s = store_prepare(x->st, "INSERT INTO batches(transmission_id, seq, "
	    "records, bytes, sha256, idempotency_key, state, created_at, "
	    "quantity_total, amount_total) VALUES (?, ?, ?, ?, ?, ?, "
	    "'pending', 0, ?, ?)");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)records);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)bytes);
	sqlite3_bind_text(s, 5, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, q, -1, SQLITE_STATIC);
	if (a != NULL)
		sqlite3_bind_text(s, 8, a, -1, SQLITE_STATIC);
	if (store_step_done(x->st, s) != 0)
		td_fatal("batch %llu", (unsigned long long)seq);
	x_free(k);
}

/* a.csv as processing records it, then built */
static void
test_plain(struct td_ctx *x)
{
	char *m = NULL;

	exec_ok(x, "INSERT INTO transmissions(id, name, size, received_at, "
	    "archive_dir, state, mapping_version, format, records_in, "
	    "delivered, dlq, batches, quantity_total, amount_total, "
	    "verification, updated_at) VALUES ('" TID_A "', 'a.csv', 265, "
	    "1796417723, 'archive/2026/12/" TID_A "', 'parsed', '" MV_A "', "
	    "'csv', 3, 3, 0, 2, '1202', '1240.97', "
	    "'{\"checksum\":\"absent\",\"signature\":\"off\"}', 0)");
	add_batch(x, TID_A, MV_A, 1, 2, 613, "9af64cd3db1697a024da4bb2c79868"
	    "4483a824da72c969be60e5975c18d28586", "1200", "1236.22");
	add_batch(x, TID_A, MV_A, 2, 1, 474, "70b9db6779529f11f6b804820b76ca"
	    "1e354a6e240ad7d2d04dba336cb31dedd9", "2", "4.75");
	ok(manifest_set_info(x, TID_A, "raw", "utf-8", "gzip") == 0 &&
	    manifest_add_member(x, TID_A, 0, NULL, "utf-8", 3, 3, 0) == 0,
	    "container, encodings and the document recorded");
	is_int(manifest_build(x, TID_A, &m), 0, "built");
	is_str(m, manifest_a, "byte for byte what 0.1.0 wrote");
	x_free(m);
}

/* a zip of three members; then its batch 2 refused by the reconciler */
static void
test_archive(struct td_ctx *x)
{
	char *m = NULL, *p;

	exec_ok(x, "INSERT INTO transmissions(id, name, size, received_at, "
	    "archive_dir, state, mapping_version, format, records_in, "
	    "delivered, dlq, batches, quantity_total, amount_total, "
	    "updated_at) VALUES ('" TID_Z "', 'we\"ek\\1.zip', 10, 0, 'a', "
	    "'parsed', 'mv', 'csv', 7, 5, 2, 3, '-1.5', NULL, 0)");
	add_batch(x, TID_Z, "mv", 1, 2, 10, "s1", "3", NULL);
	add_batch(x, TID_Z, "mv", 2, 2, 11, "s2", "-4.5", NULL);
	add_batch(x, TID_Z, "mv", 3, 1, 12, "s3", "0", NULL);
	ok(manifest_set_info(x, TID_Z, "zip", "mixed", "zstd") == 0 &&
	    manifest_add_member(x, TID_Z, 1, "b\xff.csv", "windows-1252", 3,
	    2, 1) == 0 &&
	    manifest_add_member(x, TID_Z, 0, "d/a.csv", "utf-8", 2, 2, 0) == 0 &&
	    manifest_add_member(x, TID_Z, 2, "c.csv", "utf-16le", 2, 1, 1) == 0,
	    "three members recorded, out of order");
	is_int(manifest_build(x, TID_Z, &m), 0, "built");
	ok(m != NULL && strstr(m, "\"file\":{\"name\":\"we\\\"ek\\\\1.zip\","
	    "\"size\":10,") != NULL, "the file name escaped");
	ok(m != NULL && strstr(m, "\"verification\":{\"checksum\":"
	    "\"not_checked\",\"signature\":\"not_checked\"},\"encoding\":"
	    "\"mixed\",\"container\":\"zip\",\"format\":\"csv\",") != NULL,
	    "verification not recorded: not_checked; mixed, zip, csv");
	ok(m != NULL && strstr(m, "\"counts\":{\"records\":7,\"delivered\":5,"
	    "\"dlq\":2,\"held\":0,\"duplicate\":0},\"control_totals\":"
	    "{\"quantity\":\"-1.5\",\"amount\":null}") != NULL,
	    "counts and totals as processed; no amounts: null");
	ok(m != NULL && strstr(m, "\"members\":[{\"member\":\"d/a.csv\","
	    "\"encoding\":\"utf-8\",\"records\":2,\"delivered\":2,\"dlq\":0},"
	    "{\"member\":null,\"encoding\":\"windows-1252\",\"records\":3,"
	    "\"delivered\":2,\"dlq\":1},{\"member\":\"c.csv\",\"encoding\":"
	    "\"utf-16le\",\"records\":2,\"delivered\":1,\"dlq\":1}],"
	    "\"batch_encoding\":\"zstd\",\"batches\":3,\"batch_list\":[{") !=
	    NULL, "members in order, a name that is not UTF-8 as null");
	x_free(m);

	exec_ok(x, "UPDATE batches SET state = 'rejected' WHERE "
	    "transmission_id = '" TID_Z "' AND seq = 2");
	exec_ok(x, "UPDATE batches SET state = 'acked' WHERE "
	    "transmission_id = '" TID_Z "' AND seq <> 2");
	is_int(manifest_build(x, TID_Z, &m), 0, "built after a refusal");
	ok(m != NULL && strstr(m, "\"counts\":{\"records\":7,\"delivered\":3,"
	    "\"dlq\":4,\"held\":0,\"duplicate\":0},\"control_totals\":"
	    "{\"quantity\":\"3\",\"amount\":null}") != NULL,
	    "the refused batch's 2 records dead-lettered, its -4.5 out of "
	    "the totals");
	ok(m != NULL && strstr(m, "{\"seq\":2,\"records\":2,\"bytes\":11,"
	    "\"sha256\":\"s2\",") != NULL, "and still in batch_list");
	p = m;
	m = NULL;
	/* as send_manifest records it delivered */
	exec_ok(x, "UPDATE transmissions SET state = 'delivered', delivered = "
	    "3, dlq = 4 WHERE id = '" TID_Z "'");
	is_int(manifest_build(x, TID_Z, &m), 0, "built once delivered");
	is_str(m, p, "the same manifest");
	x_free(m);
	x_free(p);
}

/* processed by a tradedrop that kept members only in the manifest */
static void
test_legacy(struct td_ctx *x)
{
	char *m = NULL, *dir, *path;

	exec_ok(x, "UPDATE transmissions SET container = NULL, encoding = "
	    "NULL, batch_encoding = NULL WHERE id = '" TID_A "'");
	exec_ok(x, "DELETE FROM members WHERE transmission_id = '" TID_A "'");
	is_int(manifest_build(x, TID_A, &m), TD_ERR_FORMAT, "no archived "
	    "manifest to read them from: an error");
	dir = xasprintf("%s/archive/2026/12/" TID_A, x->state_dir);
	path = xasprintf("%s/manifest.json", dir);
	if (td_mkdirs(dir, 0750) != 0 ||
	    td_write_file_atomic(path, manifest_a, strlen(manifest_a)) != 0)
		td_fatal("cannot write %s", path);
	is_int(manifest_build(x, TID_A, &m), 0, "built with the archived "
	    "manifest");
	is_str(m, manifest_a, "the same bytes");
	x_free(m);
	{
		int64_t v = -1;

		(void)store_query_int(x->st, "SELECT count(*) FROM members "
		    "WHERE transmission_id = '" TID_A "' AND name IS NULL AND "
		    "encoding = 'utf-8' AND records_in = 3", 0, &v);
		is_int(v, 1, "its member now in state.db");
	}
	if (unlink(path) != 0)
		td_fatal("unlink %s", path);
	is_int(manifest_build(x, TID_A, &m), 0, "built again without the file");
	is_str(m, manifest_a, "the same bytes");
	x_free(m);
	x_free(dir);
	x_free(path);
}

int
main(void)
{
	char dir[] = "/tmp/td-test-manifest.XXXXXX", *err = NULL, *cmd;
	char *m = (char *)"x";
	struct td_ctx x;

	if (mkdtemp(dir) == NULL)
		td_fatal("mkdtemp");
	memset(&x, 0, sizeof(x));
	x.integration = "acme";
	x.state_dir = dir;
	if (store_open(dir, 0, &x.st, &err) != 0)
		td_fatal("%s", err);
	test_plain(&x);
	test_archive(&x);
	test_legacy(&x);
	is_int(manifest_build(&x, "no-such", &m), TD_ERR_NOTFOUND,
	    "no such transmission");
	ok(m == NULL, "and no manifest");
	exec_ok(&x, "INSERT INTO transmissions(id, name, size, received_at, "
	    "archive_dir, state, updated_at) VALUES ('r', 'r.csv', 1, 0, 'a', "
	    "'received', 0)");
	is_int(manifest_build(&x, "r", &m), TD_ERR_NOTFOUND,
	    "none for a transmission not processed yet");
	store_close(x.st);
	cmd = xasprintf("rm -rf '%s'", dir);
	(void)!system(cmd);
	x_free(cmd);
	return done_testing();
}
