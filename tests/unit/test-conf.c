/*
 * test-conf.c - configuration: every key accepted, every kind of error
 * reported as FILE:LINE, secret file permissions, the [map] syntax.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "td.h"
#include "conf.h"
#include "mapexpr.h"

static char dir[] = "/tmp/td-test-conf.XXXXXX";

static char *write_file(const char *, const char *, int)
    __attribute__((returns_nonnull));

static char *
write_file(const char *name, const char *text, int mode)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	if (f == NULL)
		td_fatal("cannot write %s", p);
	fputs(text, f);
	fclose(f);
	chmod(p, (mode_t)mode);
	return p;
}

static const char *minimal =
    "[integration]\n"
    "name = acme\n"
    "state_dir = /tmp/td-state\n"
    "[map]\n"
    "store_id = column \"Store Nbr\"\n"
    "gtin = column \"UPC\" gtin\n"
    "txn_date = column \"Week Ending\" date \"%m/%d/%Y\"\n"
    "quantity = column \"Units\" decimal\n";

/* Load text; return the error text (or NULL when it loads). */
static char *
load(const char *text, struct td_conf **cp)
{
	char *p = write_file("t.conf", text, 0644), *errs = NULL;
	struct td_conf *c = NULL;

	if (td_conf_load(p, &c, &errs) == 0) {
		x_free(errs);
		errs = NULL;
	} else if (errs == NULL)
		errs = xstrdup("(no message)");
	if (cp != NULL)
		*cp = c;
	else
		td_conf_free(c);
	x_free(p);
	return errs;
}

/* The config with minimal + extra must fail with "t.conf:LINE: ...want". */
static void
expect_error(const char *extra, int line, const char *want, const char *name)
{
	char *text = xasprintf("%s%s", minimal, extra);
	char *errs = load(text, NULL), *prefix;

	if (line > 0)
		prefix = xasprintf("%s/t.conf:%d: ", dir, line);
	else
		prefix = xasprintf("%s/t.conf: ", dir);
	ok(errs != NULL && strstr(errs, prefix) == errs &&
	    strstr(errs, want) != NULL, "%s", name);
	if (errs == NULL || strstr(errs, prefix) != errs ||
	    strstr(errs, want) == NULL)
		diag("want '%s...%s', got '%s'", prefix, want,
		    errs ? errs : "(accepted)");
	x_free(prefix);
	x_free(errs);
	x_free(text);
}

/* Keys of the table that the tests set (or saw refused, CF_UNBUILT). */
static int covered[TDK__COUNT];

static void
test_every_key(void)
{
	char *key = write_file("id_ed25519", "KEY\n", 0600);
	char *pw = write_file("pw", "secret\n", 0600);
	char *kh = write_file("known_hosts", "x\n", 0644);
	char *cw = write_file("items.csv", "a,b\n", 0644);
	char *pr = write_file("promos.csv", "a,b\n", 0644);
	char *pub = write_file("k.pub", "x\n", 0644);
	char *ca = write_file("ca.pem", "x\n", 0644);
	char *crt = write_file("c.crt", "x\n", 0644);
	char *tok = write_file("token", "t\n", 0600);
	char *text, *errs;
	struct td_conf *c = NULL;
	size_t n, i;
	char * const *l;
	int k;

	text = xasprintf(
	    "# every key\n"
	    "[integration]\n"
	    "name = acme_1-x\n"
	    "state_dir = state\n"
	    "landing_dir = /tmp/land\n"
	    "currency = EUR\n"
	    "max_reject_ratio = 0.1\n"
	    "log_level = debug\n"
	    "on_restatement = forward\n"
	    "retain_days = 400\n"
	    "x12_id = TRADEDROP 01\n"
	    "x12_qualifier = ZZ\n"
	    "user = nobody\n"
	    "sync_sla = 2h\n"
	    "sync_method = fsync\n"
	    "[source \"acme-sftp\"]\n"
	    "url = sftp://pos@127.0.0.1:2222/out\n"
	    "pattern = *.csv.gz, *.zip\n"
	    "known_hosts = %s\n"
	    "identity = %s\n"
	    "password_file = %s\n"
	    "passphrase_file = %s\n"
	    "ready = marker\n"
	    "marker_suffix = .ok\n"
	    "after = move:/archive\n"
	    "ack_dir = /in/997\n"
	    "connect_timeout = 5s\n"
	    "max_file_size = 2G\n"
	    "poll_interval = 90s\n"
	    "[source \"second\"]\n"
	    "url = sftp://pos@host/x\n"
	    "known_hosts = %s\n"
	    "password_file = %s\n"
	    "[watch]\n"
	    "pattern = *.csv\n"
	    "ignore = .*, *.part\n"
	    "settle = 5s\n"
	    "owner = pos, 1001\n"
	    "[verify]\n"
	    "checksum = required\n"
	    "signature = optional ; inline comment\n"
	    "trusted_key = RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3\n"
	    "trusted_key = RWQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	    "trusted_key_file = %s\n"
	    "sidecar_wait = 0\n"
	    "[unpack]\n"
	    "max_ratio = 100\n"
	    "max_bytes = 1G\n"
	    "max_members = 50\n"
	    "max_depth = 2\n"
	    "[decode]\n"
	    "encoding = windows-1252\n"
	    "[parse]\n"
	    "format = csv\n"
	    "delimiter = \\t\n"
	    "header = yes\n"
	    "skip_rows = 2\n"
	    "max_field = 1M\n"
	    "max_record = 4M\n"
	    "max_fields = 100\n"
	    "extra_fields = empty\n"
	    "short_rows = allow\n"
	    "child_files = 8\n"
	    "x12_activity = QS, QU\n"
	    "x12_transfer = SS\n"
	    "[map]\n"
	    "store_id = column \"Store Nbr\" trim\n"
	    "retailer_item_id = column 3\n"
	    "gtin = column \"UPC\" trim gtin\n"
	    "txn_date = column \"Week Ending\" date \"%%m/%%d/%%Y\"\n"
	    "quantity = column \"Units\" decimal thousands\n"
	    "uom = const \"EA\"\n"
	    "amount = column \"Net Sales $\" decimal thousands parens\n"
	    "currency = column \"Cur\" upper\n"
	    "promo_code = column \"Promo \\\"X\\\"\" trim upper\n"
	    "txn_time = column \"Time\"\n"
	    "txn_ref = column \"Ticket\" trim\n"
	    "crosswalk_file = %s\n"
	    "promo_file = %s\n"
	    "key = store_id, gtin, txn_date\n"
	    "duplicates = sum\n"
	    "negative_quantity = reject\n"
	    "period = week_ending\n"
	    "[calendar]\n"
	    "type = 454\n"
	    "year_start = 2026-02-01\n"
	    "[output]\n"
	    "url = https://127.0.0.1:8443/api/v1\n"
	    "ca_file = %s\n"
	    "client_cert = %s\n"
	    "client_key = %s\n"
	    "token_file = %s\n"
	    "batch_records = 100\n"
	    "output_encoding = zstd\n"
	    "max_outbox_bytes = 1G\n"
	    "report_rejections = no\n"
	    "timeout = 10s\n"
	    "max_backoff = 2h\n"
	    "breaker_failures = 3\n"
	    "breaker_cooldown = 30s\n"
	    "[metrics]\n"
	    "listen = 127.0.0.1:9464\n"
	    "textfile = /var/lib/node_exporter/tradedrop.prom\n",
	    kh, key, pw, pw, kh, pw, pub, cw, pr, ca, crt, key, tok);
	errs = load(text, &c);
	ok(errs == NULL, "a config setting every key loads");
	if (errs != NULL)
		diag("%s", errs);
	x_free(errs);
	if (c == NULL)
		goto out;

	/*
	 * Every key the version acts on was set by that file (source keys:
	 * the first source sets them all); the others are refused, below.
	 */
	for (k = 0; k < TDK__COUNT; k++) {
		const struct td_conf_keyinfo *ki = td_conf_keyinfo(k);

		if (ki->flags & CF_UNBUILT)
			continue;
		if (strcmp(ki->section, "source") == 0)
			covered[k] = td_conf_nsources(c) > 0;
		else
			covered[k] = td_conf_isset(c, k);
	}

	is_str(td_conf_str(c, TDK_integration_name), "acme_1-x", "name");
	ok(strstr(td_conf_str(c, TDK_integration_state_dir), dir) != NULL &&
	    strstr(td_conf_str(c, TDK_integration_state_dir), "/state") != NULL,
	    "relative state_dir resolved against the config directory");
	is_int(td_conf_u64(c, TDK_integration_max_reject_ratio), 100000,
	    "ratio 0.1 is 100000 ppm");
	is_int(td_conf_u64(c, TDK_output_max_backoff), 7200, "2h");
	ok(td_conf_enum_is(c, TDK_integration_on_restatement, "forward"),
	    "on_restatement = forward");
	is_int(td_conf_u64(c, TDK_integration_retain_days), 400,
	    "retain_days");
	ok(td_conf_enum_is(c, TDK_map_duplicates, "sum"), "duplicates = sum");
	is_int(td_conf_u64(c, TDK_unpack_max_bytes), 1ULL << 30, "1G");
	is_int(td_conf_u64(c, TDK_parse_delimiter), '\t', "\\t delimiter");
	is_str(td_conf_str(c, TDK_verify_signature), "optional",
	    "inline ; comment stripped");
	l = td_conf_list(c, TDK_verify_trusted_key, &n);
	is_int(n, 2, "trusted_key is repeatable");
	l = td_conf_list(c, TDK_source_pattern, &n);
	is_int(td_conf_nsources(c), 2, "two sources");
	is_str(td_conf_source_name(c, 1), "second", "source name");
	l = td_conf_src_list(c, 0, TDK_source_pattern, &n);
	ok(n == 2 && strcmp(l[0], "*.csv.gz") == 0 &&
	    strcmp(l[1], "*.zip") == 0, "source pattern list");
	is_int(td_conf_src_u64(c, 1, TDK_source_connect_timeout), 30,
	    "source default connect_timeout 30s");
	ok(td_conf_src_u64(c, 0, TDK_source_max_file_size) == (2ULL << 30) &&
	    td_conf_src_u64(c, 1, TDK_source_max_file_size) == (16ULL << 30),
	    "max_file_size 2G, and 16G by default");
	is_str(td_conf_src_str(c, 0, TDK_source_ack_dir), "/in/997",
	    "source ack_dir");
	ok(td_conf_src_str(c, 1, TDK_source_ack_dir) == NULL,
	    "no ack_dir by default");
	is_int(td_conf_src_u64(c, 0, TDK_source_poll_interval), 90,
	    "poll_interval 90s");
	is_int(td_conf_src_u64(c, 1, TDK_source_poll_interval), 300,
	    "source default poll_interval 5m");
	is_str(td_conf_str(c, TDK_integration_user), "nobody", "user");
	is_int(td_conf_u64(c, TDK_integration_sync_sla), 7200, "sync_sla 2h");
	is_str(td_conf_str(c, TDK_integration_sync_method), "fsync",
	    "sync_method fsync");
	is_str(td_conf_str(c, TDK_metrics_listen), "127.0.0.1:9464",
	    "metrics listen");
	is_str(td_conf_map(c, TDK_map_promo_code)->arg, "Promo \"X\"",
	    "escaped quote in a header name");
	is_int(td_conf_map(c, TDK_map_retailer_item_id)->colnum, 3,
	    "column N");
	l = td_conf_list(c, TDK_parse_x12_activity, &n);
	ok(n == 2 && strcmp(l[1], "QU") == 0, "x12_activity list");
	is_int(td_conf_u64(c, TDK_parse_child_files), 8, "child_files 8");
	is_str(td_conf_str(c, TDK_integration_x12_id), "TRADEDROP 01",
	    "x12_id");
	is_str(td_conf_str(c, TDK_integration_x12_qualifier), "ZZ",
	    "x12_qualifier");
	l = td_conf_list(c, TDK_map_key, &n);
	is_int(n, 3, "key list");
	for (i = 0; i < n; i++)
		ok(l[i] != NULL, "key item %zu", i);
	td_conf_free(c);
 out:
	x_free(text);
	x_free(key); x_free(pw); x_free(kh); x_free(cw); x_free(pr);
	x_free(pub); x_free(ca); x_free(crt); x_free(tok);
}

/*
 * A key this version does not act on is refused where it is set, with a
 * value that would be valid, and with a name that says so: an operator
 * who writes `user = nobody` must not believe the agent switches user.
 */
static void
test_unbuilt(void)
{
	static const struct {
		const char	*key, *value;
	} samples[] = {
		{ "year_start", "2026-02-01" },
	};
	const struct td_conf_keyinfo *ki;
	const char *val;
	char *text, *want;
	size_t i;
	int k, line;

	for (k = 0; k < TDK__COUNT; k++) {
		ki = td_conf_keyinfo(k);
		if (!(ki->flags & CF_UNBUILT))
			continue;
		for (i = 0, val = ki->def; val == NULL &&
		    i < TD_NELEM(samples); i++)
			if (strcmp(samples[i].key, ki->key) == 0)
				val = samples[i].value;
		if (val == NULL) {
			ok(0, "a sample value for %s.%s", ki->section, ki->key);
			continue;
		}
		if (strcmp(ki->section, "source") == 0) {
			text = xasprintf("[source \"s\"]\nurl = sftp://u@h/x\n"
			    "known_hosts = /dev/null\npassword_file = /dev/null\n"
			    "%s = %s\n", ki->key, val);
			line = 13;
		} else {
			text = xasprintf("[%s]\n%s = %s\n", ki->section,
			    ki->key, val);
			line = 10;
		}
		want = xasprintf("%s: not supported by this version", ki->key);
		expect_error(text, line, want, ki->key);
		covered[k] = 1;
		x_free(want);
		x_free(text);
	}
	expect_error("[calendar]\nyear_start = 2026-02-01\n", 10,
	    "year_start needs a retail calendar: type = 445, 454 or 544",
	    "year_start with the Gregorian calendar is refused");
	expect_error("[calendar]\ntype = 445\nyear_start = 2024-02-29\n", 11,
	    "year_start: 29 February has no day in most years",
	    "a year cannot start on 29 February");
}

static void
test_coverage(void)
{
	size_t n = 0;
	int k;

	for (k = 0; k < TDK__COUNT; k++) {
		if (!covered[k])
			diag("key %s.%s not covered", td_conf_keyinfo(k)->section,
			    td_conf_keyinfo(k)->key);
		n += (size_t)covered[k];
	}
	is_int(n, TDK__COUNT, "the test sets every key of the table, or "
	    "sees it refused as not supported");
}

static void
test_defaults(void)
{
	struct td_conf *c = NULL;
	char *errs = load(minimal, &c);
	char buf[512];

	ok(errs == NULL, "minimal config loads");
	x_free(errs);
	if (c == NULL)
		return;
	is_str(td_conf_str(c, TDK_integration_landing_dir),
	    "/tmp/td-state/landing", "landing_dir defaults under state_dir");
	is_str(td_conf_str(c, TDK_output_url), "file:///tmp/td-state/out",
	    "output url defaults to file://<state_dir>/out");
	is_int(td_conf_u64(c, TDK_output_batch_records), 5000,
	    "batch_records default");
	is_int(td_conf_u64(c, TDK_unpack_max_bytes), 16ULL << 30,
	    "max_bytes default 16G");
	is_int(td_conf_u64(c, TDK_integration_retain_days), 2557,
	    "retain_days default");
	is_int(td_conf_u64(c, TDK_integration_max_reject_ratio), 50000,
	    "max_reject_ratio default 0.05");
	is_str(td_conf_str(c, TDK_decode_encoding), "auto", "encoding");
	is_int(td_conf_u64(c, TDK_parse_header), 1, "header default yes");
	snprintf(buf, sizeof(buf), "%s", td_conf_str(c, TDK_watch_ignore));
	ok(strcmp(buf, ".*, *.part, *.tmp, *.filepart") == 0,
	    "watch ignore default");
	td_conf_free(c);
}

static void
test_errors(void)
{
	char *key, *kh, *text, *errs;

	/* minimal has 8 lines, so extra text starts at line 9 */
	expect_error("[bogus]\nx = 1\n", 9, "unknown section [bogus]",
	    "unknown section");
	expect_error("[output]\nbatch_size = 5\n", 10,
	    "unknown key \"batch_size\" in [output]", "unknown key");
	expect_error("[output]\nbatch_records = lots\n", 10,
	    "not a whole number", "bad integer");
	/* a value out of range names the bounds, as the file writes them */
	expect_error("[output]\nbatch_records = 0\n", 10,
	    "batch_records = 0: out of range: 1 to 1000000",
	    "integer below range, naming the range");
	expect_error("[output]\nbatch_records = 1000001\n", 10,
	    "out of range: 1 to 1000000", "integer above range");
	expect_error("[output]\ntimeout = 2h\n", 10,
	    "timeout = 2h: out of range: 1s to 1h",
	    "duration above range, naming the range in units");
	expect_error("[integration]\nsync_sla = 10s\n", 10,
	    "out of range: 1m to 365d", "duration below range");
	expect_error("[parse]\nmax_field = 8\n", 10,
	    "max_field = 8: out of range: 16 to 16M",
	    "size out of range, naming the range in units");
	expect_error("[output]\nmax_outbox_bytes = 10K\n", 10,
	    "max_outbox_bytes = 10K: out of range: at least 1M",
	    "size below a range with no maximum");
	expect_error("[output]\ntimeout = 5 minutes\n", 10,
	    "not a duration", "bad duration");
	expect_error("[unpack]\nmax_bytes = 5Q\n", 10, "not a size",
	    "bad size");
	expect_error("[integration]\nmax_reject_ratio = 1.5\n", 10,
	    "not a ratio", "ratio above 1");
	/* a value not allowed lists the values that are */
	expect_error("[decode]\nencoding = ebcdic\n", 10,
	    "encoding = ebcdic: not one of auto, utf-8, windows-1252, "
	    "iso-8859-1, utf-16", "bad enum, listing the allowed values");
	expect_error("[map]\nperiod = weekly\n", 10,
	    "period = weekly: not one of day, week_ending, week_starting",
	    "bad enum of [map], listing the allowed values");
	expect_error("[parse]\nheader = maybe\n", 10, "expected yes or no",
	    "bad bool");
	expect_error("[parse]\ndelimiter = ||\n", 10, "must be one byte",
	    "bad delimiter");
	/* ";;" after a blank is a comment too, leaving no value */
	expect_error("[parse]\ndelimiter = ;;\n", 10, "delimiter = : empty",
	    "delimiter = ;; is a comment: empty");
	/* a byte of a character once decoded: ¦ (0xA6 in windows-1252)
	 * is C2 A6, and 0xA6 would cut every such character in two */
	expect_error("[parse]\ndelimiter = \xa6\n", 10, "an ASCII byte",
	    "a delimiter byte above 0x7F");
	expect_error("[integration]\ncurrency = usd\n", 10,
	    "usd: an ISO 4217 code is written in capital letters",
	    "currency in lower case");
	expect_error("[integration]\ncurrency = XYZ\n", 10,
	    "XYZ: not a currency of ISO 4217 List one", "currency not in "
	    "ISO 4217");
	expect_error("[integration]\ncurrency = XAU\n", 10,
	    "XAU: ISO 4217 gives it no minor unit", "currency with no minor "
	    "unit");
	expect_error("[integration]\ncurrency = US\n", 10,
	    "not an ISO 4217 code (three capital letters)", "currency of "
	    "two letters");
	expect_error("[integration]\nx12_id = ABCDEFGHIJKLMNOP\n", 10,
	    "x12_id must be 1 to 15 printable characters",
	    "x12_id longer than ISA06");
	expect_error("[integration]\nx12_id = A*B\n", 10,
	    "none of * ~ > ^", "x12_id with a delimiter");
	expect_error("[source \"s\"]\nurl = sftp://u@h/x\nknown_hosts = /\n"
	    "password_file = /\nack_dir = in/997\n", 13,
	    "ack_dir must be an absolute remote directory", "ack_dir relative");
	expect_error("[integration]\nx12_qualifier = Z\n", 10,
	    "x12_qualifier must be 2 printable", "x12_qualifier not 2 long");
	expect_error("[output]\nurl = http://plain/\n", 10,
	    "https://", "plain http refused");
	expect_error("[watch]\npattern = a,,b\n", 10, "empty item",
	    "empty list item");
	expect_error("[map]\npromo_code = colum \"Promo\"\n", 10,
	    "expected column or const", "map: bad source");
	expect_error("[map]\npromo_code = column \"Promo\n", 10,
	    "unterminated quoted string", "map: unterminated quote");
	expect_error("[map]\npromo_code = column \"Promo\" lower\n", 10,
	    "unknown transform", "map: unknown transform");
	expect_error("[map]\npromo_code = column 0\n", 10,
	    "column number", "map: column 0");
	expect_error("[map]\npromo_code = column \"P\" date\n", 10,
	    "date needs", "map: date without format");
	expect_error("[map]\npromo_code = column \"P\" date \"%Q\"\n", 10,
	    "date format", "map: bad date directive");
	expect_error("[map]\nkey = store_id, colour\n", 10,
	    "not a record field", "map: bad key field");
	expect_error("[integration]\nname = other\n", 10,
	    "duplicate key \"name\" (first at line 2)", "duplicate key");
	expect_error("[source \"s\"]\nurl = sftp://u@h/x\n"
	    "known_hosts = /dev/null\npassword_file = /nonexistent/pw\n"
	    "[source \"s\"]\n", 13, "duplicate source \"s\" (first at line 9)",
	    "duplicate source name");
	expect_error("[source]\nurl = x\n", 9, "quoted name",
	    "source without a name");
	expect_error("[source \"Bad Name\"]\n", 9, "source name",
	    "source with a bad name");
	expect_error("just words\n", 9, "syntax error", "not key = value");
	expect_error("[output\n", 9, "syntax error", "broken section header");

	/* missing required keys name the section's line, or just the file */
	errs = load("[integration]\nname = a\n[map]\nstore_id = column 1\n",
	    NULL);
	ok(errs != NULL && strstr(errs, "t.conf:1: [integration]: missing "
	    "required key \"state_dir\"") != NULL,
	    "missing state_dir names the section line");
	ok(errs != NULL && strstr(errs, "t.conf:3: [map]: missing required "
	    "key \"txn_date\"") != NULL, "missing txn_date names [map] line");
	x_free(errs);
	errs = load("[map]\nstore_id = column 1\n", NULL);
	ok(errs != NULL && strstr(errs, "t.conf: missing section "
	    "[integration]") != NULL, "missing section reported");
	x_free(errs);

	/* several errors are all reported */
	errs = load("[integration]\nname = BAD\nstate_dir = /x\nfoo = 1\n"
	    "[map]\nstore_id = column 1\ngtin = column 2 gtin\n"
	    "txn_date = column 3 date \"%Y\"\nquantity = column 4 decimal\n",
	    NULL);
	ok(errs != NULL && strstr(errs, "t.conf:2: name = BAD") != NULL &&
	    strstr(errs, "t.conf:4: unknown key \"foo\"") != NULL,
	    "every error is reported, each with its line");
	x_free(errs);

	/* a secret file readable by group or others is refused */
	key = write_file("open_key", "KEY\n", 0644);
	kh = write_file("kh", "x\n", 0644);
	text = xasprintf("[source \"s\"]\nurl = sftp://u@h/x\n"
	    "known_hosts = %s\nidentity = %s\n", kh, key);
	x_free(kh);
	expect_error(text, 12, "readable by group or others (mode 644)",
	    "identity readable by others is refused");
	x_free(text);
	chmod(key, 0640);
	text = xasprintf("[output]\ntoken_file = %s\n", key);
	expect_error(text, 10, "readable by group or others (mode 640)",
	    "token_file readable by group is refused");
	x_free(text);
	chmod(key, 0600);
	text = xasprintf("[output]\ntoken_file = %s\n", key);
	{
		char *full = xasprintf("%s%s", minimal, text);

		errs = load(full, NULL);
		x_free(full);
	}
	ok(errs == NULL, "mode 600 token_file accepted");
	x_free(errs);
	x_free(text);
	text = xasprintf("[output]\ntoken_file = %s/missing\n", dir);
	expect_error(text, 10, "No such file", "missing token_file");
	x_free(text);
	x_free(key);

	/* x12 takes no column mappings */
	errs = load("[integration]\nname = a\nstate_dir = /x\n[parse]\n"
	    "format = x12\n[map]\nstore_id = column 1\n", NULL);
	ok(errs != NULL && strstr(errs, "t.conf:7: store_id: with format = "
	    "x12") != NULL, "x12 refuses column mappings");
	x_free(errs);
}

/*
 * tradedrop.conf(5) promises lines of up to 8189 bytes (Debian's libinih
 * stopped at 197): one of exactly 8189 loads, with CRLF too, and one
 * byte more is refused with its line.
 */
static void
test_long_lines(void)
{
	static const char *ends[] = { "\n", "\r\n" };
	struct td_conf *c = NULL;
	char *val, *text, *errs;
	size_t i, n;
	char * const *l;

	for (i = 0; i < TD_NELEM(ends); i++) {
		val = xmalloc(8190);
		memset(val, 'a', 8189 - strlen("pattern = "));
		val[8189 - strlen("pattern = ")] = '\0';
		text = xasprintf("%s[watch]\npattern = %s%s", minimal, val,
		    ends[i]);
		errs = load(text, &c);
		l = c != NULL ? td_conf_list(c, TDK_watch_pattern, &n) : NULL;
		ok(errs == NULL && l != NULL && n == 1 &&
		    strlen(l[0]) == 8179, "a line of 8189 bytes loads (%s)",
		    i ? "CRLF" : "LF");
		if (errs != NULL)
			diag("%.200s", errs);
		x_free(errs);
		td_conf_free(c);
		x_free(text);
		text = xasprintf("[watch]\npattern = %sb%s", val, ends[i]);
		expect_error(text, 10, "line longer than 8189 bytes",
		    "a line of 8190 bytes is refused with its line");
		x_free(text);
		x_free(val);
	}
}

/*
 * URLs are checked when the configuration loads (with libcurl's URL
 * API), not first at --connect: an sftp:// URL with a password or a ".."
 * used to pass check.
 */
static void
test_urls(void)
{
	static const struct {
		const char	*url, *want;
	} bad_src[] = {
		{ "sftp://pos:hunter2@h/x", "url: a password in the URL is "
		    "refused; put it in password_file" },
		{ "sftp://pos:@h/x", "a password in the URL is refused" },
		{ "sftp://h/x", "needs USER@ before the host" },
		{ "sftp://u@h/in/../../etc", "path has a . or .. segment" },
		{ "sftp://u@h/in/%2E%2e/x", "path has a . or .. segment" },
		{ "sftp://u@h/./x", "path has a . or .. segment" },
		{ "sftp://u@h", "needs an absolute /PATH" },
		{ "sftp://u@h:0/x", "port must be 1-65535" },
		{ "sftp://u@h:70000/x", "not a URL" },
		{ "sftp://u@h/x?y", "has a ?query or #fragment" },
		{ "sftp://u;x@h/x", "user must be letters" },
		{ "sftp://u@h_1/x", "host must be a name" },
		{ "sftp://u@[fe80::1%25eth0]/x", "host must be a name" },
		{ "SFTP://u@h/x", "must start with sftp://" },
		{ "https://u@h/x", "must start with sftp://" },
		{ "sftp://u@h:/x", "libcurl reads it as sftp://u@h/x" },
		{ "sftp://u@h/a b", "not a URL" },
	}, bad_out[] = {
		{ "http://plain/", "url = http://plain/: must be https://" },
		{ "https:///x", "needs a host after https://" },
		{ "https://h/api?x=1", "has a ?query or #fragment" },
		{ "file://host/dir", "url: must be https://HOST/PATH or "
		    "file:///DIR" },
		{ "file:///srv/out#x", "has a ?query or #fragment" },
		{ "https://u:pw@h/api?x", "url = https://u:REDACTED@h/api?x: "
		    "has a ?query" },
	}, redact[] = {
		{ "https://u:s3cret@h:8443/api/v1",
		    "https://u:REDACTED@h:8443/api/v1" },
		{ "https://u:@h/x", "https://u:REDACTED@h/x" },
		{ "https://h/a:b@c", "https://h/a:b@c" },	/* no userinfo */
		{ "sftp://pos@h/x", "sftp://pos@h/x" },
		{ "https://u:p w@h/", "REDACTED" },	/* does not parse */
	};
	static const char *good_src[] = { "sftp://pos@sftp.example/out",
	    "sftp://pos_1.x@127.0.0.1:2222/out/", "sftp://u@[::1]:22/",
	    "sftp://u@h/a%20b" };
	struct td_conf *c = NULL;
	char *pw = write_file("url_pw", "pw\n", 0600);
	char *kh = write_file("url_kh", "x\n", 0644);
	char *text, *errs, *r;
	size_t i;

	for (i = 0; i < TD_NELEM(bad_src); i++) {
		text = xasprintf("[source \"s\"]\nurl = %s\nknown_hosts = "
		    "%s\npassword_file = %s\n", bad_src[i].url, kh, pw);
		expect_error(text, 10, bad_src[i].want, bad_src[i].url);
		x_free(text);
	}
	text = xasprintf("%s[source \"s\"]\nurl = sftp://pos:hunter2@h/x\n"
	    "known_hosts = %s\npassword_file = %s\n", minimal, kh, pw);
	errs = load(text, NULL);
	ok(errs != NULL && strstr(errs, "hunter2") == NULL,
	    "the refused password is not echoed");
	x_free(errs);
	x_free(text);
	for (i = 0; i < TD_NELEM(bad_out); i++) {
		text = xasprintf("[output]\nurl = %s\n", bad_out[i].url);
		expect_error(text, 10, bad_out[i].want, bad_out[i].url);
		x_free(text);
	}
	for (i = 0; i < TD_NELEM(good_src); i++) {
		text = xasprintf("%s[source \"s\"]\nurl = %s\nknown_hosts = "
		    "%s\npassword_file = %s\n", minimal, good_src[i], kh, pw);
		errs = load(text, &c);
		ok(errs == NULL && c != NULL && strcmp(td_conf_src_str(c, 0,
		    TDK_source_url), good_src[i]) == 0, "%s is accepted",
		    good_src[i]);
		if (errs != NULL)
			diag("%s", errs);
		x_free(errs);
		td_conf_free(c);
		x_free(text);
	}
	x_free(pw);
	x_free(kh);

	/* redaction, as check --dump uses it */
	for (i = 0; i < TD_NELEM(redact); i++) {
		r = td_conf_url_redact(redact[i].url);
		is_str(r, redact[i].want, "redacted: %s", redact[i].url);
		x_free(r);
	}
}

static void
test_semicolon(void)
{
	static const char *forms[] = { "delimiter = semicolon",
	    "delimiter =;" };
	struct td_conf *c = NULL;
	char *text, *errs;
	size_t i;

	for (i = 0; i < TD_NELEM(forms); i++) {
		text = xasprintf("%s[parse]\n%s\n", minimal, forms[i]);
		errs = load(text, &c);
		ok(errs == NULL && c != NULL &&
		    td_conf_u64(c, TDK_parse_delimiter) == ';', "%s is ';'",
		    forms[i]);
		x_free(errs);
		td_conf_free(c);
		x_free(text);
	}
	/* a ';' after a blank starts a comment, leaving no value */
	expect_error("[parse]\ndelimiter = ;\n", 10,
	    "delimiter = : empty (a \";\" after a blank starts a comment: "
	    "write semicolon for a semicolon)",
	    "delimiter = ; is a comment, not a delimiter, and the message "
	    "says to write semicolon");
}

/* The transforms and options of SPEC section 3, and their errors. */
static void
test_mapexpr_more(void)
{
	static const struct {
		const char	*in;
		const char	*canon;	/* NULL: refused */
	} v[] = {
		{ "column 1 decimal sign=trailing",
		    "column 1 decimal sign=trailing" },
		{ "column 1 decimal sign=parens group=\",\"",
		    "column 1 decimal sign=parens group=\",\"" },
		{ "column 1 decimal thousands parens",
		    "column 1 decimal sign=parens group=\",\"" },
		{ "column 1 decimal group=\".\" point=\",\"",
		    "column 1 decimal group=\".\" point=\",\"" },
		{ "column 1 decimal point=, group=\" \"",
		    "column 1 decimal group=\" \" point=\",\"" },
		{ "column 1 decimal implied=2 sign=trailing",
		    "column 1 decimal sign=trailing implied=2" },
		{ "column 1 decimal cents", "column 1 decimal cents" },
		{ "column 1 decimal sign=leading", "column 1 decimal" },
		{ "column 1 gtin upce nocheck pad",
		    "column 1 gtin nocheck upce pad" },
		{ "column 1 datetime", "column 1 datetime" },
		{ "column 1 datetime \"%m/%d/%Y %I:%M %p\"",
		    "column 1 datetime \"%m/%d/%Y %I:%M %p\"" },
		{ "column 1 datetime \"%H%M\" trim",
		    "column 1 datetime \"%H%M\" trim" },
		{ "column 1 date \"%Y-%m-%d %H:%M\"",
		    "column 1 date \"%Y-%m-%d %H:%M\"" },
		{ "column 1 default \"0\" decimal",
		    "column 1 default \"0\" decimal" },
		{ "column 1 substr 3 5", "column 1 substr 3 5" },
		{ "column 1 regex \"^T-([0-9]+)$\"",
		    "column 1 regex \"^T-([0-9]+)$\" 1" },
		{ "column 1 regex \"[0-9]+\"", "column 1 regex \"[0-9]+\" 0" },
		{ "column 1 regex \"(a)(b)\" 2 upper",
		    "column 1 regex \"(a)(b)\" 2 upper" },
		{ "column 1 values \"A=tpr, B = bogo,*=other\"",
		    "column 1 values \"A=tpr, B = bogo,*=other\"" },
		/* refused */
		{ "column 1 decimal sign=minus", NULL },
		{ "column 1 decimal sign=trailing sign=parens", NULL },
		{ "column 1 decimal group=\",\" point=\",\"", NULL },
		{ "column 1 decimal point=\";\"", NULL },
		{ "column 1 decimal group=\"12\"", NULL },
		{ "column 1 decimal group=\"5\"", NULL },
		{ "column 1 decimal implied=0", NULL },
		{ "column 1 decimal implied=19", NULL },
		{ "column 1 decimal implied=2 cents", NULL },
		{ "column 1 decimal group=", NULL },
		{ "column 1 gtin nochek", NULL },
		{ "column 1 datetime \"%Y-%m-%d\"", NULL },
		{ "column 1 datetime \"%Y-%m %H\"", NULL },
		{ "column 1 date \"%H:%M\"", NULL },
		{ "column 1 date \"%Y-%m-%d %p\"", NULL },
		{ "column 1 default", NULL },
		{ "column 1 substr 0 3", NULL },
		{ "column 1 substr 3", NULL },
		{ "column 1 substr \"3\" 2", NULL },
		{ "column 1 regex \"(a\"", NULL },
		{ "column 1 regex \"(a)\\\\1\"", NULL },
		{ "column 1 regex \"(a)\" 2", NULL },
		{ "column 1 regex \"\"", NULL },
		{ "column 1 values \"A=x, A=y\"", NULL },
		{ "column 1 values \"A=x, B\"", NULL },
		{ "column 1 values \"=x\"", NULL },
		{ "column 1 lower", NULL },
	};
	struct mapexpr *mx;
	const char *why;
	char *canon;
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(v); i++) {
		why = NULL;
		r = mapexpr_parse(v[i].in, &mx, &why);
		if (v[i].canon == NULL) {
			ok(r != 0 && mx == NULL && why != NULL && *why != '\0',
			    "refused: %s (%s)", v[i].in, why ? why : "?");
			continue;
		}
		canon = r == 0 ? mapexpr_canon(mx) : NULL;
		ok(canon != NULL && strcmp(canon, v[i].canon) == 0,
		    "%s -> %s", v[i].in, canon ? canon : why);
		x_free(canon);
		mapexpr_free(mx);
	}
	ok(mapexpr_parse("column 1 values \"A=tpr, B=bogo, *=other\"", &mx,
	    &why) == 0 && strcmp(mapexpr_value(&mx->xf[0], "B", 1), "bogo") == 0 &&
	    strcmp(mapexpr_value(&mx->xf[0], "Q", 1), "other") == 0,
	    "values: a key, and * for any other");
	mapexpr_free(mx);
	ok(mapexpr_parse("column 1 values \"A=tpr\"", &mx, &why) == 0 &&
	    mapexpr_value(&mx->xf[0], "a", 1) == NULL, "values: exact, no "
	    "default: NULL");
	mapexpr_free(mx);
}

static void
test_mapexpr(void)
{
	struct mapexpr *mx;
	const char *why;
	char *canon;

	ok(mapexpr_parse("column \"Week Ending\"  date \"%m/%d/%Y\" trim",
	    &mx, &why) == 0, "parse with extra spaces");
	if (mx != NULL) {
		canon = mapexpr_canon(mx);
		is_str(canon, "column \"Week Ending\" date \"%m/%d/%Y\" trim",
		    "canonical form");
		x_free(canon);
		mapexpr_free(mx);
	}
	ok(mapexpr_parse("const \"a\\\\b\"", &mx, &why) == 0 && mx != NULL &&
	    strcmp(mx->arg, "a\\b") == 0, "escaped backslash");
	mapexpr_free(mx);
	ok(mapexpr_parse("column 2 decimal parens upper", &mx, &why) == 0 &&
	    mx != NULL && mx->nxf == 2 && mx->xf[0].sign == MX_SIGN_PARENS,
	    "decimal options then another transform");
	mapexpr_free(mx);
	/* what a typed transform wrote is delivered: no text edit after */
	ok(mapexpr_parse("column 1 decimal trim substr 1 3", &mx, &why) ==
	    TD_ERR_FORMAT && mx == NULL && why != NULL &&
	    strstr(why, "substr after decimal") != NULL,
	    "substr after decimal (and a trim) refused");
	ok(mapexpr_parse("column 1 gtin regex \"(.*)\"", &mx, &why) ==
	    TD_ERR_FORMAT && why != NULL &&
	    strstr(why, "regex after gtin") != NULL, "regex after gtin refused");
	ok(mapexpr_parse("column 1 regex \"([0-9.]+)\" substr 1 9 decimal "
	    "trim upper default \"0\"", &mx, &why) == 0,
	    "text edits before decimal, and the ones that leave it, accepted");
	mapexpr_free(mx);
	ok(mapexpr_parse("column 1 decimal crosswalk trim", &mx, &why) == 0 &&
	    mapexpr_last_typed(mx) == MX_XF_CROSSWALK &&
	    strcmp(mapexpr_xf_name(MX_XF_CROSSWALK), "crosswalk") == 0,
	    "the last typed transform: crosswalk after decimal, then trim");
	mapexpr_free(mx);
	ok(mapexpr_parse("column 1 trim upper", &mx, &why) == 0 &&
	    mapexpr_last_typed(mx) == -1, "no typed transform: -1");
	mapexpr_free(mx);
	/* a key neither counted nor typed: the typed transform normalises */
	ok(mapexpr_parse_text("column 1 decimal values \"1=S001\" gtin "
	    "substr 1 3", &mx, &why) == 0 && mx != NULL && mx->nxf == 4,
	    "mapexpr_parse_text: values and substr after decimal and gtin");
	mapexpr_free(mx);
	ok(mapexpr_parse_text("column 1 decimal bogus", &mx, &why) ==
	    TD_ERR_FORMAT && mx == NULL, "mapexpr_parse_text: still parses");
	test_mapexpr_more();
	ok(mapexpr_parse("", &mx, &why) != 0 && mx == NULL, "empty refused");
	ok(mapexpr_parse("const x", &mx, &why) != 0, "unquoted const");
	ok(mapexpr_parse("column \"a\"b", &mx, &why) != 0, "junk after quote");
	ok(mapexpr_parse("column 1 trim trim trim trim trim trim trim trim "
	    "trim", &mx, &why) != 0, "too many transforms");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		td_fatal("mkdtemp");
	test_every_key();
	test_unbuilt();
	test_coverage();
	test_defaults();
	test_errors();
	test_long_lines();
	test_urls();
	test_semicolon();
	test_mapexpr();
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		(void)!system(cmd);
		x_free(cmd);
	}
	return done_testing();
}
