/*
 * forward.c - one HTTPS POST at a time through a curl multi handle.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "td.h"
#include "conf.h"
#include "fsutil.h"
#include "log.h"
#include "forward.h"

struct forwarder {
	CURLM		*multi;
	CURL		*easy;
	char		*url;		/* without a trailing slash */
	char		*shown;		/* url with any password redacted */
	char		*auth;		/* "Authorization: Bearer ..." or NULL */
	long		 timeout_ms;
	struct fwd_resp	*resp;		/* of the request under way */
	size_t		 bodylen;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct forwarder *f = arg;
	size_t len = size * n, room;

	room = sizeof(f->resp->body) - 1 - f->bodylen;
	if (len < room)
		room = len;
	memcpy(f->resp->body + f->bodylen, p, room);
	f->bodylen += room;
	f->resp->body[f->bodylen] = '\0';
	return len;
}

/* Retry-After: delta seconds, or an HTTP date. */
static long
parse_retry_after(const char *v)
{
	struct tm tm;
	const char *e;
	long s = 0;
	time_t t;

	while (*v == ' ')
		v++;
	if (isdigit((unsigned char)*v)) {
		for (; isdigit((unsigned char)*v) && s < 86400 * 7; v++)
			s = s * 10 + (*v - '0');
		return s;
	}
	memset(&tm, 0, sizeof(tm));
	if ((e = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL)
		return -1;
	t = timegm(&tm);
	s = (long)(t - time(NULL));
	return s < 0 ? 0 : s;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct forwarder *f = arg;
	size_t len = size * n;
	char line[256];

	if (len > 12 && len < sizeof(line) &&
	    strncasecmp(p, "Retry-After:", 12) == 0) {
		memcpy(line, p + 12, len - 12);
		line[len - 12] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		f->resp->retry_after = parse_retry_after(line);
	}
	return len;
}

int
fwd_open(struct forwarder **out, const struct td_conf *c, char **err)
{
	struct forwarder *f;
	const char *tf, *url = td_conf_str(c, TDK_output_url);
	char *tok = NULL;
	size_t len;
	int r;

	*out = NULL;
	*err = NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	f = xcalloc(1, sizeof(*f));
	f->url = xstrdup(url);
	len = strlen(f->url);
	while (len > 0 && f->url[len - 1] == '/')
		f->url[--len] = '\0';
	{
		/* never log a password written into the URL */
		const char *h = strstr(f->url, "://"), *at, *colon, *sl;

		h = h ? h + 3 : f->url;
		at = strchr(h, '@');
		sl = strchr(h, '/');
		colon = at ? memchr(h, ':', (size_t)(at - h)) : NULL;
		if (at != NULL && (sl == NULL || at < sl) && colon != NULL)
			f->shown = xasprintf("%.*s:REDACTED%s",
			    (int)(colon - f->url), f->url, at);
		else
			f->shown = xstrdup(f->url);
	}
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
		f->auth = xasprintf("Authorization: Bearer %s", tok);
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
	curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, f->timeout_ms);
	curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    f->timeout_ms < 10000 ? f->timeout_ms : 10000L);
	curl_easy_setopt(f->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "tradedrop/" VERSION);
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(f->easy, CURLOPT_HEADERDATA, f);
	if (td_conf_str(c, TDK_output_ca_file) != NULL)
		curl_easy_setopt(f->easy, CURLOPT_CAINFO,
		    td_conf_str(c, TDK_output_ca_file));
	if (td_conf_str(c, TDK_output_client_cert) != NULL) {
		curl_easy_setopt(f->easy, CURLOPT_SSLCERT,
		    td_conf_str(c, TDK_output_client_cert));
		curl_easy_setopt(f->easy, CURLOPT_SSLKEY,
		    td_conf_str(c, TDK_output_client_key));
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
	if (f == NULL)
		return;
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
fwd_post(struct forwarder *f, const char *path, const char *ctype,
    const char *cenc, const char * const *headers, const void *body,
    size_t len, struct fwd_resp *resp)
{
	struct curl_slist *hl = NULL;
	CURLMsg *msg;
	CURLcode cc = CURLE_OK;
	char *url, *h;
	int running, left, i, done = 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	f->resp = resp;
	f->bodylen = 0;
	url = xasprintf("%s%s", f->url, path);
	h = xasprintf("Content-Type: %s", ctype);
	hl = curl_slist_append(hl, h);
	x_free(h);
	if (cenc != NULL) {
		h = xasprintf("Content-Encoding: %s", cenc);
		hl = curl_slist_append(hl, h);
		x_free(h);
	}
	hl = curl_slist_append(hl, "Expect:");
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		hl = curl_slist_append(hl, headers[i]);
	if (f->auth != NULL)
		hl = curl_slist_append(hl, f->auth);
	curl_easy_setopt(f->easy, CURLOPT_URL, url);
	curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(f->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(f->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(f->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)len);
	curl_multi_add_handle(f->multi, f->easy);
	while (!done) {
		if (curl_multi_perform(f->multi, &running) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(f->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE) {
				cc = msg->data.result;
				done = 1;
			}
		if (!done && running == 0)
			break;
		if (!done)
			curl_multi_poll(f->multi, NULL, 0, 1000, NULL);
	}
	curl_multi_remove_handle(f->multi, f->easy);
	curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	x_free(url);
	f->resp = NULL;
	if (!done || cc != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s",
		    curl_easy_strerror(done ? cc : CURLE_FAILED_INIT));
		return FWD_RETRY;
	}
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	if ((resp->status >= 200 && resp->status < 300) || resp->status == 409)
		return FWD_ACK;
	if (resp->status == 400 || resp->status == 413 || resp->status == 422)
		return FWD_REJECT;
	if (resp->status == 429 || resp->status >= 500)
		return FWD_RETRY;
	return FWD_HOLD;
}

int
fwd_check(struct forwarder *f, char *err, size_t errlen)
{
	CURL *e;
	CURLcode cc;
	char *url = xasprintf("%s/", f->url);

	if ((e = curl_easy_duphandle(f->easy)) == NULL)
		td_fatal("curl: out of memory");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	cc = curl_easy_perform(e);
	curl_easy_cleanup(e);
	x_free(url);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		return TD_ERR_IO;
	}
	return TD_OK;
}
