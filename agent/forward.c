/*
 * forward.c - HTTPS POSTs through one curl multi handle: up to
 * FWD_SLOTS requests in flight, each on its own easy handle cloned from
 * a configured template, with keep-alive reuse between them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "fsutil.h"
#include "hash.h"
#include "log.h"
#include "forward.h"

#define FWD_SLOTS	4	/* requests in flight at most */
/* a longer Retry-After is cut to this */
#define RETRY_AFTER_MAX	(7L * 86400)
#define AUTH_BEARER	"Authorization: Bearer "

struct fslot {
	CURL		*easy;
	struct curl_slist *hl;
	char		*url;
	struct fwd_resp	 resp;
	size_t		 bodylen;
	int		 busy;
	int		 hdr_end;	/* the last header block was ended */
	int		 hdr_info;	/* and it was a 1xx's */
	char		 errbuf[CURL_ERROR_SIZE];	/* curl's details */
};

struct forwarder {
	CURLM		*multi;
	CURL		*easy;		/* the configured template */
	char		*url;		/* without a trailing slash */
	char		*shown;		/* url with any password redacted */
	char		*auth;		/* "Authorization: Bearer ..." or NULL */
	long		 timeout_ms;
	struct fslot	 slot[FWD_SLOTS];
};

/*
 * curl's error for cc: its generic text, then the details of its error
 * buffer when they say more ("SSL certificate problem: certificate has
 * expired", "Failed to connect to 127.0.0.1 port 1 after 0 ms: ...").
 */
static void
curl_error(char *out, size_t n, CURLcode cc, const char *details)
{
	char *p;

	if (details[0] != '\0' && strcmp(details, curl_easy_strerror(cc)) != 0)
		snprintf(out, n, "%s: %s", curl_easy_strerror(cc), details);
	else
		snprintf(out, n, "%s", curl_easy_strerror(cc));
	/* the details can quote the server (its certificate's names): no
	 * control character reaches a terminal through check --connect */
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct fslot *sl = arg;
	size_t len = size * n, room;

	room = sizeof(sl->resp.body) - 1 - sl->bodylen;
	if (len < room)
		room = len;
	memcpy(sl->resp.body + sl->bodylen, p, room);
	sl->bodylen += room;
	sl->resp.body[sl->bodylen] = '\0';
	return len;
}

/* 1 when the status line p (len bytes, "HTTP/...") is a 1xx's. */
static int
status_1xx(const char *p, size_t len)
{
	size_t i = 5;

	while (i < len && p[i] != ' ')
		i++;
	while (i < len && p[i] == ' ')
		i++;
	return i + 3 <= len && p[i] == '1' && p[i + 1] >= '0' &&
	    p[i + 1] <= '9' && p[i + 2] >= '0' && p[i + 2] <= '9';
}

/*
 * Each header line of the answer, as libcurl passes it: a status line
 * ("HTTP/...", of a 1xx or of the final answer) starts a header block,
 * an empty line ends it. libcurl takes an answer cut short by a close
 * after its status line (or a header) as whole; fwd_wait does not.
 * Once the final answer's block has ended, what libcurl passes on is a
 * trailer of a chunked body, never a status line, whatever it says: a
 * trailer "HTTP/..." reopens nothing (a proxy's answer to CONNECT does
 * not come here, CURLOPT_SUPPRESS_CONNECT_HEADERS).
 */
static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct fslot *sl = arg;
	size_t len = size * n;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0 &&
	    (!sl->hdr_end || sl->hdr_info)) {
		sl->hdr_end = 0;
		sl->hdr_info = status_1xx(p, len);
	} else if ((len == 2 && p[0] == '\r' && p[1] == '\n') ||
	    (len == 1 && p[0] == '\n'))
		sl->hdr_end = 1;
	return len;
}

/*
 * The bytes of s that spell the token's byte t escaped: %XX in either
 * case, %-encoded again any number of times (%252F, a receiver that
 * quotes a URL holding it), or as JSON writes it (\/, \u002F); 0 when
 * s does not, and *cut set when s ends within what could be one.
 */
static size_t
tok_escaped(const char *s, unsigned char t, int *cut)
{
	size_t i;
	int hi = 0, lo, v;

	*cut = 0;
	if (s[0] == '%') {
		for (i = 1;; i += 2) {
			if (s[i] == '\0' || ((hi = td_hexval((unsigned char)
			    s[i])) >= 0 && s[i + 1] == '\0')) {
				*cut = 1;
				return 0;
			}
			if (hi < 0 || (lo = td_hexval((unsigned char)s[i + 1])) < 0)
				return 0;
			if ((v = hi << 4 | lo) == t)
				return i + 2;
			if (v != '%')		/* %25: encoded once more */
				return 0;
		}
	}
	if (s[0] != '\\')
		return 0;
	if (s[1] == (char)t && (t == '/' || t == '\\' || t == '"'))
		return 2;
	if (s[1] != 'u')
		return s[1] == '\0' ? (*cut = 1, 0) : 0;
	for (i = 2, v = 0; i < 6; i++) {
		if (s[i] == '\0') {
			/* the hex digits so far start t's */
			*cut = v == t >> (4 * (6 - i));
			return 0;
		}
		if ((hi = td_hexval((unsigned char)s[i])) < 0)
			return 0;
		v = v << 4 | hi;
	}
	return v == t ? 6 : 0;
}

/*
 * The bytes of s a copy of the token starts, each of its bytes as it is
 * or escaped (tok_escaped: %-encoded in either case, as a receiver that
 * echoes it in a URL does, all of it or only its reserved characters as
 * curl_easy_escape does, or more than once; or JSON-escaped), with *k set
 * to the token's bytes it holds: tl for a whole copy (0 bytes: none), or
 * fewer when s ends within one (even within an escape), then to the end
 * of s. A % (or \\) of the token is taken as it is, or with esc_first
 * escaped first.
 */
static size_t
token_at(const char *s, const char *tok, size_t tl, int esc_first,
    size_t *k)
{
	size_t i = 0, e;
	int cut = 0;

	for (*k = 0; *k < tl; (*k)++) {
		unsigned char t = (unsigned char)tok[*k];

		if ((esc_first || s[i] != (char)t) &&
		    (e = tok_escaped(s + i, t, &cut)) > 0)
			i += e;
		else if (s[i] == (char)t && s[i] != '\0')
			i++;
		else
			break;
	}
	if (*k == tl)
		return i;
	/* s ends here, or within an escape here: a copy cut */
	if (*k > 0 && (s[i] == '\0' || cut))
		return i + strlen(s + i);
	*k = 0;
	return 0;
}

/*
 * s (of size bytes, NUL-terminated) with every copy of the token in it
 * replaced by REDACTED, as it is or escaped (token_at), and, when s
 * fills size, a start of it (4 bytes of the token or more) that s was
 * cut in: s is the receiver's text (a body, a Location), logged and kept
 * in dlq/, and a receiver that repeats the request's headers would put
 * the token there, in a URL %-encoded, in JSON escaped.
 */
static void
redact_token(const struct forwarder *f, char *s, size_t size)
{
	const char *tok, *p;
	struct td_buf b;
	size_t tl, n, k;
	int full, esc;

	if (f->auth == NULL)
		return;
	tok = f->auth + strlen(AUTH_BEARER);
	tl = strlen(tok);
	esc = strpbrk(tok, "%\\") != NULL;
	full = strlen(s) == size - 1;
	td_buf_init(&b, 256, 0);
	for (p = s; *p != '\0'; ) {
		n = token_at(p, tok, tl, 0, &k);
		if (esc && k < tl && !(full && k >= 4))
			n = token_at(p, tok, tl, 1, &k);
		if (n > 0 && (k == tl || (full && k >= 4))) {
			td_buf_puts(&b, "REDACTED");
			p += n;
		} else
			td_buf_putc(&b, *p++);
	}
	snprintf(s, size, "%s", td_buf_cstr(&b));
	td_buf_free(&b);
}

int
fwd_open(struct forwarder **out, const struct td_conf *c, char **err)
{
	struct forwarder *f;
	const char *tf, *url = td_conf_str(c, TDK_output_url);
	char *tok = NULL;
	size_t len;
	int r, i;

	*out = NULL;
	*err = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*err = xstrdup("libcurl could not be initialised "
		    "(curl_global_init)");
		return TD_ERR_INTERNAL;
	}
	f = xcalloc(1, sizeof(*f));
	f->url = xstrdup(url);
	len = strlen(f->url);
	while (len > 0 && f->url[len - 1] == '/')
		f->url[--len] = '\0';
	f->shown = td_conf_url_redact(f->url);	/* never log a password */
	f->timeout_ms = (long)td_conf_u64(c, TDK_output_timeout) * 1000;
	if ((tf = td_conf_str(c, TDK_output_token_file)) != NULL) {
		if ((r = td_read_file(tf, 16 << 10, &tok, &len)) != 0) {
			*err = xasprintf("token_file %s: %s", tf, r ==
			    TD_ERR_LIMIT ? "too large" : strerror(errno));
			goto fail;
		}
		while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
			tok[--len] = '\0';
		if (len == 0 || strpbrk(tok, "\r\n") != NULL) {
			*err = xasprintf("token_file %s: empty, or more than "
			    "one line", tf);
			sodium_memzero(tok, len);
			goto fail;
		}
		f->auth = xasprintf(AUTH_BEARER "%s", tok);
		sodium_memzero(tok, len);
		x_free(tok);
		tok = NULL;
	}
	if ((f->multi = curl_multi_init()) == NULL ||
	    (f->easy = curl_easy_init()) == NULL)
		td_fatal("curl: out of memory");
	curl_easy_setopt(f->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(f->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(f->easy, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(f->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(f->easy, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
	/* on_header sees the receiver's answers only */
	curl_easy_setopt(f->easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, f->timeout_ms);
	curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    f->timeout_ms < 10000 ? f->timeout_ms : 10000L);
	curl_easy_setopt(f->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "tradedrop/" VERSION);
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_body);
	if (td_conf_str(c, TDK_output_ca_file) != NULL)
		curl_easy_setopt(f->easy, CURLOPT_CAINFO,
		    td_conf_str(c, TDK_output_ca_file));
	if (td_conf_str(c, TDK_output_client_cert) != NULL) {
		curl_easy_setopt(f->easy, CURLOPT_SSLCERT,
		    td_conf_str(c, TDK_output_client_cert));
		curl_easy_setopt(f->easy, CURLOPT_SSLKEY,
		    td_conf_str(c, TDK_output_client_key));
	}
	for (i = 0; i < FWD_SLOTS; i++) {
		struct fslot *sl = &f->slot[i];

		if ((sl->easy = curl_easy_duphandle(f->easy)) == NULL)
			td_fatal("curl: out of memory");
		curl_easy_setopt(sl->easy, CURLOPT_WRITEDATA, sl);
		curl_easy_setopt(sl->easy, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(sl->easy, CURLOPT_HEADERDATA, sl);
		curl_easy_setopt(sl->easy, CURLOPT_PRIVATE, sl);
		curl_easy_setopt(sl->easy, CURLOPT_ERRORBUFFER, sl->errbuf);
	}
	*out = f;
	return TD_OK;
 fail:
	x_free(tok);
	fwd_close(f);
	return TD_ERR_INVAL;
}

void
fwd_close(struct forwarder *f)
{
	int i;

	if (f == NULL)
		return;
	for (i = 0; i < FWD_SLOTS; i++) {
		if (f->slot[i].busy)
			curl_multi_remove_handle(f->multi, f->slot[i].easy);
		if (f->slot[i].easy != NULL)
			curl_easy_cleanup(f->slot[i].easy);
		curl_slist_free_all(f->slot[i].hl);
		x_free(f->slot[i].url);
	}
	if (f->easy != NULL)
		curl_easy_cleanup(f->easy);
	if (f->multi != NULL)
		curl_multi_cleanup(f->multi);
	if (f->auth != NULL) {
		sodium_memzero(f->auth, strlen(f->auth));
		x_free(f->auth);
	}
	x_free(f->url);
	x_free(f->shown);
	x_free(f);
}

const char *
fwd_url(const struct forwarder *f)
{
	return f->shown;
}

int
fwd_start(struct forwarder *f, const char *path, const char *ctype,
    const char *cenc, const char * const *headers, const void *body,
    size_t len)
{
	struct fslot *sl = NULL;
	CURLMcode mc;
	char *h;
	int i;

	for (i = 0; i < FWD_SLOTS; i++)
		if (!f->slot[i].busy) {
			sl = &f->slot[i];
			break;
		}
	if (sl == NULL)
		return FWD_START_BUSY;
	memset(&sl->resp, 0, sizeof(sl->resp));
	sl->resp.retry_after = -1;
	sl->bodylen = 0;
	sl->hdr_end = 0;
	sl->hdr_info = 0;
	x_free(sl->url);
	sl->url = xasprintf("%s%s", f->url, path);
	h = xasprintf("Content-Type: %s", ctype);
	sl->hl = curl_slist_append(NULL, h);
	x_free(h);
	if (cenc != NULL) {
		h = xasprintf("Content-Encoding: %s", cenc);
		sl->hl = curl_slist_append(sl->hl, h);
		x_free(h);
	}
	sl->hl = curl_slist_append(sl->hl, "Expect:");
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		sl->hl = curl_slist_append(sl->hl, headers[i]);
	if (f->auth != NULL)
		sl->hl = curl_slist_append(sl->hl, f->auth);
	curl_easy_setopt(sl->easy, CURLOPT_URL, sl->url);
	curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, sl->hl);
	curl_easy_setopt(sl->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)len);
	if ((mc = curl_multi_add_handle(f->multi, sl->easy)) != CURLM_OK) {
		td_log(TD_LOG_ERROR, "delivery_failed", "url=%s error=%s",
		    f->shown, curl_multi_strerror(mc));
		curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(sl->hl);
		sl->hl = NULL;
		return FWD_START_FAILED;
	}
	sl->busy = 1;
	return (int)(sl - f->slot);
}

int
fwd_inflight(const struct forwarder *f)
{
	int i, n = 0;

	for (i = 0; i < FWD_SLOTS; i++)
		n += f->slot[i].busy;
	return n;
}

int
fwd_wait(struct forwarder *f, int *slotp, struct fwd_resp *resp)
{
	struct fslot *sl = NULL;
	CURLMsg *msg;
	CURLcode cc = CURLE_OK;
	curl_off_t ra = 0;
	int running, left;
	char *priv, *loc = NULL, *shown;

	*slotp = -1;
	if (fwd_inflight(f) == 0)
		return FWD_RETRY;
	while (sl == NULL) {
		if (curl_multi_perform(f->multi, &running) != CURLM_OK)
			td_fatal("curl_multi_perform failed");
		while (sl == NULL &&
		    (msg = curl_multi_info_read(f->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE) {
				cc = msg->data.result;
				curl_easy_getinfo(msg->easy_handle,
				    CURLINFO_PRIVATE, &priv);
				sl = (struct fslot *)(void *)priv;
			}
		if (sl == NULL)
			curl_multi_poll(f->multi, NULL, 0, 1000, NULL);
	}
	curl_multi_remove_handle(f->multi, sl->easy);
	curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(sl->hl);
	sl->hl = NULL;
	sl->busy = 0;
	*slotp = (int)(sl - f->slot);
	*resp = sl->resp;
	if (cc != CURLE_OK) {
		curl_error(resp->error, sizeof(resp->error), cc, sl->errbuf);
		return FWD_RETRY;
	}
	curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!sl->hdr_end) {
		/* closed after the status line or a header: no answer, even
		 * a 2xx; sent again under its key (Tier 1) */
		snprintf(resp->error, sizeof(resp->error), "%s", "the answer "
		    "was cut short in its headers");
		return FWD_RETRY;
	}
	/* a redirect is not followed (the body and the token go nowhere
	 * but url); where it points is logged, with any password in it
	 * redacted: libcurl resolves a relative Location against url,
	 * user and password included */
	if (resp->status >= 300 && resp->status < 400 &&
	    curl_easy_getinfo(sl->easy, CURLINFO_REDIRECT_URL, &loc) ==
	    CURLE_OK && loc != NULL) {
		shown = td_conf_url_redact(loc);
		snprintf(resp->location, sizeof(resp->location), "%s", shown);
		x_free(shown);
		redact_token(f, resp->location, sizeof(resp->location));
	}
	redact_token(f, resp->body, sizeof(resp->body));
	/* delta seconds or an HTTP date; 0 when absent (or said 0). Only
	 * of 429 and 503: another 5xx has its backoff, whatever it asks */
	if ((resp->status == 429 || resp->status == 503) &&
	    curl_easy_getinfo(sl->easy, CURLINFO_RETRY_AFTER, &ra) ==
	    CURLE_OK && ra > 0)
		resp->retry_after = ra < RETRY_AFTER_MAX ? (long)ra :
		    RETRY_AFTER_MAX;
	if ((resp->status >= 200 && resp->status < 300) || resp->status == 409)
		return FWD_ACK;
	if (resp->status == 400 || resp->status == 413 || resp->status == 422)
		return FWD_REJECT;
	if (resp->status == 429 || resp->status >= 500)
		return FWD_RETRY;
	return FWD_HOLD;
}

int
fwd_post(struct forwarder *f, const char *path, const char *ctype,
    const char *cenc, const char * const *headers, const void *body,
    size_t len, struct fwd_resp *resp)
{
	int slot;

	if ((slot = fwd_start(f, path, ctype, cenc, headers, body, len)) ==
	    FWD_START_BUSY)
		td_fatal("fwd_post: requests still in flight");
	if (slot == FWD_START_FAILED) {
		memset(resp, 0, sizeof(*resp));
		resp->retry_after = -1;
		snprintf(resp->error, sizeof(resp->error), "%s",
		    "the request could not be started");
		return FWD_RETRY;
	}
	return fwd_wait(f, &slot, resp);
}

int
fwd_check(struct forwarder *f, char *err, size_t errlen)
{
	CURL *e;
	CURLcode cc;
	char *url = xasprintf("%s/", f->url), eb[CURL_ERROR_SIZE];

	if ((e = curl_easy_duphandle(f->easy)) == NULL)
		td_fatal("curl: out of memory");
	eb[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, eb);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	cc = curl_easy_perform(e);
	curl_easy_cleanup(e);
	x_free(url);
	if (cc != CURLE_OK) {
		curl_error(err, errlen, cc, eb);
		return TD_ERR_IO;
	}
	return TD_OK;
}
