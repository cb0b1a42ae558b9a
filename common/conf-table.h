/*
 * conf-table.h - every configuration section and key, declared once.
 *
 * The parser, the defaults, `tradedrop check --dump`, etc/tradedrop.conf
 * and the man page sync test all come from this table.
 *
 * TD_CONF_KEY(section, key, type, default, min, max, enumvals, flags, help)
 *   type:     CT_STRING CT_PATH CT_BOOL CT_ENUM CT_INT CT_DURATION CT_SIZE
 *             CT_RATIO CT_LIST CT_BYTE CT_MAP CT_DATE CT_CURRENCY CT_NAME
 *   default:  text form, parsed by the same code as the file (NULL: unset)
 *   min, max: bounds for CT_INT, CT_DURATION (seconds), CT_SIZE (bytes)
 *   enumvals: "a|b|c" for CT_ENUM
 *   flags:    CF_REQUIRED, CF_REPEAT (may appear several times),
 *             CF_SECRETFILE (file must not be readable by group/others),
 *             CF_URL (userinfo password redacted in --dump),
 *             CF_UNBUILT (this version does not act on the key: setting it
 *             is an error, "not supported by this version"; the default
 *             stays for documentation; a test fails when a key has
 *             neither a reader in agent/ or common/ nor this flag)
 *
 * Keys of [source "NAME"] sections use the section name `source`.
 */

#define TD_CONF_KEYS(X)							\
X(integration, name, CT_NAME, NULL, 0, 0, NULL, CF_REQUIRED,		\
  "integration name, [a-z0-9_-]{1,64}; part of every record id")	\
X(integration, state_dir, CT_PATH, NULL, 0, 0, NULL, CF_REQUIRED,	\
  "directory holding all durable state (state.db, archive, outbox)")	\
X(integration, landing_dir, CT_PATH, NULL, 0, 0, NULL, 0,		\
  "directory watched for drops; default <state_dir>/landing")		\
X(integration, retain_days, CT_INT, "2557", 1, 36500, NULL, 0,	\
  "days raw, parsed and manifest archives are kept")			\
X(integration, currency, CT_CURRENCY, "USD", 0, 0, NULL, 0,		\
  "ISO 4217 currency of every record, in capitals; its minor unit is the"	\
  " decimals of amount (JPY 0, USD 2, KWD 3, CLF 4)")			\
X(integration, max_reject_ratio, CT_RATIO, "0.05", 0, 0, NULL, 0,	\
  "dead-lettered/total records above this sends the whole file to quarantine") \
X(integration, on_restatement, CT_ENUM, "hold", 0, 0, "hold|forward",	0, \
  "what to do with a record whose key was delivered with other values") \
X(integration, log_level, CT_ENUM, "info", 0, 0, "error|warn|info|debug", 0, \
  "least severe level logged")						\
X(integration, user, CT_STRING, NULL, 0, 0, NULL, 0,			\
  "user to switch to when started as root (unset: stay)")		\
X(integration, x12_id, CT_STRING, NULL, 0, 0, NULL, 0,		\
  "our interchange id (ISA06) in the 997s we send; unset: the drop's ISA08") \
X(integration, x12_qualifier, CT_STRING, NULL, 0, 0, NULL, 0,		\
  "qualifier (ISA05) of x12_id, e.g. ZZ or 01; unset: the drop's ISA07") \
X(integration, sync_sla, CT_DURATION, "26h", 60, 31536000, NULL, 0,	\
  "warn when the oldest undelivered record is older than this")		\
X(integration, sync_method, CT_ENUM, "syncfs", 0, 0, "syncfs|fsync", 0, \
  "how a group of small files is made durable: one syncfs(2) of the"	\
  " state_dir file system a step, or an fsync of each file and directory") \
X(source, url, CT_STRING, NULL, 0, 0, NULL, CF_REQUIRED | CF_URL,	\
  "sftp://USER@HOST[:PORT]/DIR to poll")				\
X(source, pattern, CT_LIST, "*", 0, 0, NULL, 0,			\
  "shell globs of remote file names to fetch (none [watch] never takes)") \
X(source, known_hosts, CT_PATH, NULL, 0, 0, NULL, CF_REQUIRED,		\
  "OpenSSH known_hosts file with the server's host key")		\
X(source, identity, CT_PATH, NULL, 0, 0, NULL, CF_SECRETFILE,		\
  "private key file for public key authentication")			\
X(source, password_file, CT_PATH, NULL, 0, 0, NULL, CF_SECRETFILE,	\
  "file holding the password for password authentication")		\
X(source, passphrase_file, CT_PATH, NULL, 0, 0, NULL, CF_SECRETFILE,	\
  "file holding the passphrase of an encrypted identity")		\
X(source, poll_interval, CT_DURATION, "5m", 1, 604800, NULL, 0,	\
  "time between listings of the remote directory")			\
X(source, ready, CT_ENUM, "stable", 0, 0, "stable|marker", 0,		\
  "when a remote file is complete: stable size and mtime, or a marker file") \
X(source, stable_time, CT_DURATION, "1m", 0, 86400, NULL, 0,		\
  "with ready = stable: how long a file must stay unchanged across listings") \
X(source, marker_suffix, CT_STRING, ".done", 0, 0, NULL, 0,		\
  "with ready = marker: NAME<suffix> marks NAME complete")		\
X(source, after, CT_STRING, "keep", 0, 0, NULL, 0,			\
  "keep | delete | move:/remote/dir, applied once a file is safely landed") \
X(source, ack_dir, CT_STRING, NULL, 0, 0, NULL, 0,			\
  "/remote/dir where the 997s of the X12 drops fetched are uploaded") \
X(source, connect_timeout, CT_DURATION, "30s", 1, 3600, NULL, 0,	\
  "TCP connect and SSH handshake timeout")				\
X(source, poll_timeout, CT_DURATION, "1h", 1, 604800, NULL, 0,	\
  "a poll still running after this stops; a file cut off resumes next poll") \
X(source, max_file_size, CT_SIZE, "16G", 1024, UINT64_MAX, NULL, 0,	\
  "largest file fetched; a larger one listed is left on the server")	\
X(watch, pattern, CT_LIST, "*", 0, 0, NULL, 0,				\
  "shell globs of landing file names to take")				\
X(watch, ignore, CT_LIST, ".*, *.part, *.tmp, *.filepart", 0, 0, NULL, 0, \
  "shell globs of landing file names never taken (partial uploads)")	\
X(watch, settle, CT_DURATION, "2s", 0, 3600, NULL, 0,			\
  "a landing file is taken only once its size and mtime held this long") \
X(watch, owner, CT_LIST, NULL, 0, 0, NULL, 0,				\
  "user names or uids whose landing files are taken (unset: any owner)") \
X(verify, checksum, CT_ENUM, "optional", 0, 0, "required|optional|off", 0, \
  "checksum sidecar NAME.sha256 / NAME.sha512 policy")			\
X(verify, signature, CT_ENUM, "off", 0, 0, "required|optional|off", 0,	\
  "minisign signature sidecar NAME.minisig policy")			\
X(verify, trusted_key, CT_STRING, NULL, 0, 0, NULL, CF_REPEAT,		\
  "minisign public key (base64 line); repeatable")			\
X(verify, trusted_key_file, CT_PATH, NULL, 0, 0, NULL, CF_REPEAT,	\
  "minisign public key file; repeatable")				\
X(verify, sidecar_wait, CT_DURATION, "10m", 0, 604800, NULL, 0,	\
  "how long a data file waits for a required sidecar")			\
X(unpack, max_ratio, CT_INT, "200", 1, 1000000, NULL, 0,		\
  "largest expanded/compressed ratio per archive member")		\
X(unpack, max_bytes, CT_SIZE, "16G", 1024, UINT64_MAX, NULL, 0,	\
  "largest expanded total per transmission")				\
X(unpack, max_members, CT_INT, "10000", 1, 10000000, NULL, 0,		\
  "most archive members per transmission")				\
X(unpack, max_depth, CT_INT, "3", 0, 16, NULL, 0,			\
  "deepest nesting of archives")					\
X(decode, encoding, CT_ENUM, "auto", 0, 0,				\
  "auto|utf-8|windows-1252|iso-8859-1|utf-16", 0,			\
  "character encoding of drops; auto: BOM, else UTF-8, else Windows-1252") \
X(parse, format, CT_ENUM, "csv", 0, 0, "csv|x12", 0,			\
  "drop format")							\
X(parse, delimiter, CT_BYTE, ",", 0, 0, NULL, 0,			\
  "CSV field delimiter, one ASCII byte; \\t for tab, semicolon for ;")			\
X(parse, header, CT_BOOL, "yes", 0, 0, NULL, 0,			\
  "first CSV row (after skip_rows) names the columns")			\
X(parse, skip_rows, CT_INT, "0", 0, 1000000, NULL, 0,			\
  "CSV rows skipped before the header (title lines)")			\
X(parse, max_field, CT_SIZE, "64K", 16, 16777216, NULL, 0,		\
  "largest CSV field; a longer one rejects its record (Tier 3)")	\
X(parse, max_record, CT_SIZE, "1M", 64, 67108864, NULL, 0,		\
  "largest raw CSV record; a longer one is rejected (Tier 3)")		\
X(parse, max_fields, CT_INT, "512", 1, 65536, NULL, 0,			\
  "most fields in one CSV record")					\
X(parse, extra_fields, CT_ENUM, "reject", 0, 0, "reject|empty", 0,	\
  "a CSV row with more fields than the header: rejected (Tier 3), or taken when those past the header's are empty") \
X(parse, short_rows, CT_ENUM, "reject", 0, 0, "reject|allow", 0,	\
  "a CSV row with fewer fields than the header: rejected (Tier 3), or taken when each mapped column is there") \
X(parse, child_files, CT_INT, "64", 1, 64, NULL, 0,		\
  "small files one parser child takes in a row, all of one signer; 1: a child of its own for each file") \
X(parse, x12_activity, CT_LIST, "QS", 0, 0, NULL, 0,		\
  "852 ZA activity codes that become records")				\
X(parse, x12_transfer, CT_LIST, "SS", 0, 0, NULL, 0,		\
  "867 PTD01 transfer type codes that become records")			\
X(map, store_id, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "store identifier (required for format = csv)")			\
X(map, retailer_item_id, CT_MAP, NULL, 0, 0, NULL, 0,			\
  "retailer's own item number")						\
X(map, gtin, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "GTIN / UPC / EAN (required unless a crosswalk supplies it)")	\
X(map, txn_date, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "day of sale or last day of the period (required)")			\
X(map, quantity, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "units sold, exact decimal (required)")				\
X(map, uom, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "unit of measure; EA when unmapped")					\
X(map, amount, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "sales amount, exact decimal; null when unmapped")			\
X(map, currency, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "currency per record; the integration's currency when unmapped")	\
X(map, promo_code, CT_MAP, NULL, 0, 0, NULL, 0,			\
  "retailer promotion code")						\
X(map, txn_time, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "time of sale HH:MM:SS as sent (transaction-level feeds)")		\
X(map, txn_ref, CT_MAP, NULL, 0, 0, NULL, 0,				\
  "the retailer's ticket or register reference (transaction-level feeds)") \
X(map, crosswalk_file, CT_PATH, NULL, 0, 0, NULL, 0,			\
  "CSV mapping retailer item ids / PLUs to GTINs")			\
X(map, promo_file, CT_PATH, NULL, 0, 0, NULL, 0,			\
  "CSV mapping promo codes to promo_id and promo_type")			\
X(map, key, CT_LIST, "store_id, gtin, txn_date, promo_id", 0, 0, NULL, 0, \
  "record fields forming the natural key compared for duplicates")	\
X(map, duplicates, CT_ENUM, "reject", 0, 0, "reject|sum", 0,		\
  "rows of one file with the same key: dead-letter them all, or add them up") \
X(map, negative_quantity, CT_ENUM, "allow", 0, 0, "allow|reject", 0,	\
  "reject negative quantities (returns) as Tier 3")			\
X(map, period, CT_ENUM, "day", 0, 0, "day|week_ending|week_starting", 0, \
  "txn_date is a day, or the last or first day of a week")		\
X(calendar, type, CT_ENUM, "gregorian", 0, 0, "gregorian|445|454|544", 0, \
  "fiscal calendar used for the fiscal object")				\
X(calendar, year_start, CT_DATE, NULL, 0, 0, NULL, 0,			\
  "first day of a fiscal year (YYYY-MM-DD); default: the NRF rule")	\
X(output, url, CT_STRING, NULL, 0, 0, NULL, CF_URL,			\
  "https://reconciler/api/v1 or file:///dir; default file://<state_dir>/out") \
X(output, ca_file, CT_PATH, NULL, 0, 0, NULL, 0,			\
  "CA certificates for the reconciler (default: system store)")	\
X(output, client_cert, CT_PATH, NULL, 0, 0, NULL, 0,			\
  "client certificate for mutual TLS")					\
X(output, client_key, CT_PATH, NULL, 0, 0, NULL, CF_SECRETFILE,	\
  "private key of client_cert")						\
X(output, token_file, CT_PATH, NULL, 0, 0, NULL, CF_SECRETFILE,	\
  "file holding the bearer token")					\
X(output, batch_records, CT_INT, "5000", 1, 1000000, NULL, 0,		\
  "records per batch")							\
X(output, output_encoding, CT_ENUM, "gzip", 0, 0, "gzip|zstd|identity", 0, \
  "batch body encoding")						\
X(output, max_outbox_bytes, CT_SIZE, "8G", 1048576, UINT64_MAX, NULL, 0, \
  "intake pauses while the outbox holds more than this")		\
X(output, report_rejections, CT_BOOL, "yes", 0, 0, NULL, 0,		\
  "also send Tier 2/3 rejections to <url>/rejections")			\
X(output, timeout, CT_DURATION, "30s", 1, 3600, NULL, 0,		\
  "time limit of one HTTP request")					\
X(output, max_backoff, CT_DURATION, "15m", 1, 86400, NULL, 0,		\
  "longest wait between delivery retries")				\
X(output, breaker_failures, CT_INT, "5", 1, 1000, NULL, 0,		\
  "consecutive failures that open the circuit breaker")		\
X(output, breaker_cooldown, CT_DURATION, "60s", 1, 86400, NULL, 0,	\
  "wait before the open breaker lets one probe through")		\
X(metrics, listen, CT_STRING, NULL, 0, 0, NULL, 0,			\
  "ADDRESS:PORT serving Prometheus text at /metrics (unset: off)")	\
X(metrics, textfile, CT_PATH, NULL, 0, 0, NULL, 0,			\
  "file rewritten with the metrics for node-exporter (unset: off)")

/* Sections in the order they are documented and dumped. */
#define TD_CONF_SECTIONS(X)						\
X(integration) X(source) X(watch) X(verify) X(unpack) X(decode)	\
X(parse) X(map) X(calendar) X(output) X(metrics)
