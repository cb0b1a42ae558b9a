/* test-gtin.c - unit tests for common/gtin.c */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "gtin.h"
#include "tap.h"

#define ZXING_TSV	"tests/data/gtin/zxing-blackbox-gtin-values.tsv"
#define BOTS_CSV	"../shared/corpus/pos-csv/bots-slsrpt/slsrpt_1.csv"

static const char *srcdir = ".";

static FILE *
open_data(const char *rel)
{
	char path[4096];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", srcdir, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	return fopen(path, "r");
}

/* Independent check digit: weights from the left for an odd length. */
static int
naive_check(const char *s, size_t n)
{
	size_t i;
	int sum = 0, pos;

	/* position counted from the right, rightmost data digit is 1 */
	for (i = 0; i < n; i++) {
		pos = (int)(n - i);
		sum += (s[i] - '0') * (pos % 2 == 1 ? 3 : 1);
	}
	return sum % 10 == 0 ? 0 : 10 - sum % 10;
}

struct norm_vec {
	const char *s;
	int ret;
	const char *out;	/* or the error code */
};

static const struct norm_vec norm_vecs[] = {
	{ "96385074", 0, "00000096385074" },			/* GTIN-8 */
	{ "036000291452", 0, "00036000291452" },		/* UPC-A */
	{ "4006381333931", 0, "04006381333931" },		/* EAN-13 */
	{ "9780140013993", 0, "09780140013993" },		/* ISBN */
	{ "10012345678902", 0, "10012345678902" },		/* GTIN-14 */
	{ "00000000000000", TD_ERR_FORMAT, "gtin_zero" },	/* no product */
	{ "00000000", TD_ERR_FORMAT, "gtin_zero" },
	{ "000000000000", TD_ERR_FORMAT, "gtin_zero" },
	{ "0000000000000", TD_ERR_FORMAT, "gtin_zero" },
	{ "0004006381333931", 0, "04006381333931" },		/* padded */
	{ "00000000000000000096385074", 0, "00000096385074" },
	{ "", TD_ERR_FORMAT, "gtin_empty" },
	{ "03600029145", TD_ERR_FORMAT, "gtin_length" },	/* 11 */
	{ "963850742", TD_ERR_FORMAT, "gtin_length" },		/* 9 */
	{ "0096385074", TD_ERR_FORMAT, "gtin_length" },		/* 10 */
	{ "1234567", TD_ERR_FORMAT, "gtin_length" },
	{ "1", TD_ERR_FORMAT, "gtin_length" },
	{ "100004006381333931", TD_ERR_FORMAT, "gtin_length" },
	{ "000000000000000", TD_ERR_FORMAT, "gtin_zero" },
	{ "0000000", TD_ERR_FORMAT, "gtin_length" },	/* length first */
	{ "036000291453", TD_ERR_FORMAT, "gtin_check_digit" },
	{ "4006381333932", TD_ERR_FORMAT, "gtin_check_digit" },
	{ "4006381333930", TD_ERR_FORMAT, "gtin_check_digit" },
	{ "0004006381333932", TD_ERR_FORMAT, "gtin_check_digit" },
	{ "4006381333931 ", TD_ERR_FORMAT, "gtin_not_digits" },
	{ " 4006381333931", TD_ERR_FORMAT, "gtin_not_digits" },
	{ "4006381-333931", TD_ERR_FORMAT, "gtin_not_digits" },
	{ "+4006381333931", TD_ERR_FORMAT, "gtin_not_digits" },
	{ "4.006381333931E+12", TD_ERR_FORMAT, "gtin_not_digits" },
	{ "40063813339x1", TD_ERR_FORMAT, "gtin_not_digits" },
	{ "4006381333931\xc2\xa0", TD_ERR_FORMAT, "gtin_not_digits" },
};

static void
test_vectors(void)
{
	const struct norm_vec *v;
	const char *code;
	char out[15];
	size_t i;
	int r;

	is_int(td_gtin_check_digit("400638133393", 12), 1, "EAN-13 check");
	is_int(td_gtin_check_digit("03600029145", 11), 2, "UPC-A check");
	is_int(td_gtin_check_digit("9638507", 7), 4, "GTIN-8 check");
	is_int(td_gtin_check_digit("1001234567890", 13), 2, "GTIN-14 check");
	is_int(td_gtin_check_digit("0", 1), 0, "one digit");
	is_int(td_gtin_check_digit("1", 1), 7, "one digit 1");
	is_int(td_gtin_check_digit("", 0), TD_ERR_FORMAT, "no digits");
	is_int(td_gtin_check_digit("12a", 3), TD_ERR_FORMAT, "not digits");
	is_int(td_gtin_check_digit(NULL, 0), TD_ERR_FORMAT, "NULL");
	/* leading zeros never change the check digit */
	is_int(td_gtin_check_digit("0000003600029145", 16), 2, "zero padded");

	for (i = 0; i < TD_NELEM(norm_vecs); i++) {
		v = &norm_vecs[i];
		code = "junk";
		memset(out, 'X', sizeof(out));
		r = td_gtin_normalize(v->s, strlen(v->s), out, &code);
		if (v->ret == 0)
			ok(r == 0 && code == NULL && strcmp(out, v->out) == 0,
			    "normalize '%s' -> %s", v->s, out);
		else
			ok(r == v->ret && code != NULL &&
			    strcmp(code, v->out) == 0 && out[0] == '\0',
			    "normalize '%s' -> %d %s", v->s, r,
			    code ? code : "(null)");
	}
	r = td_gtin_normalize(NULL, 0, out, &code);
	ok(r == TD_ERR_FORMAT && strcmp(code, "gtin_empty") == 0, "NULL input");
	r = td_gtin_normalize("4006381333931", 12, out, &code);
	ok(r == TD_ERR_FORMAT && strcmp(code, "gtin_check_digit") == 0,
	    "n bounds the input (12 of 13 digits)");
	r = td_gtin_normalize("40063813\0" "33931", 13, out, &code);
	ok(r == TD_ERR_FORMAT && strcmp(code, "gtin_not_digits") == 0,
	    "embedded NUL");
}

struct upce_vec {
	const char *e, *a;
};

static const struct upce_vec upce_vecs[] = {
	{ "01234505", "012000003455" },		/* last payload digit 0-2 */
	{ "01234515", "012100003455" },
	{ "01234525", "012200003455" },
	{ "01234531", "012300000451" },		/* 3 */
	{ "01234542", "012340000052" },		/* 4 */
	{ "01234558", "012345000058" },		/* 5-9 */
	{ "01234565", "012345000065" },
	{ "04252614", "042100005264" },
	{ "11234568", "112345000068" },		/* number system 1 */
};

static void
test_upce(void)
{
	const struct upce_vec *v;
	char out[13];
	size_t i;

	for (i = 0; i < TD_NELEM(upce_vecs); i++) {
		v = &upce_vecs[i];
		ok(td_upce_expand(v->e, 8, out) == 0 && strcmp(out, v->a) == 0,
		    "upce %s -> %s", v->e, out);
	}
	is_int(td_upce_expand("21234565", 8, out), TD_ERR_FORMAT,
	    "number system 2");
	is_int(out[0], '\0', "out cleared on error");
	is_int(td_upce_expand("0123456", 7, out), TD_ERR_FORMAT, "7 digits");
	is_int(td_upce_expand("012345655", 9, out), TD_ERR_FORMAT, "9 digits");
	is_int(td_upce_expand("0123a565", 8, out), TD_ERR_FORMAT, "letter");
	is_int(td_upce_expand(NULL, 8, out), TD_ERR_FORMAT, "NULL");
}

/* Split a TSV line into up to nf fields in place; returns the count. */
static int
split_tabs(char *line, char **f, int nf)
{
	int k = 0;
	char *p = line, *t;

	line[strcspn(line, "\r\n")] = '\0';
	while (k < nf) {
		f[k++] = p;
		if ((t = strchr(p, '\t')) == NULL)
			break;
		*t = '\0';
		p = t + 1;
	}
	return k;
}

static void
test_zxing(void)
{
	FILE *fp;
	char line[1024], *f[4], want[15], out[15], upca[13], mut[64];
	const char *code;
	size_t len, pad, nrows = 0, nupce = 0, nbad_mut;
	int d, r;

	if ((fp = open_data(ZXING_TSV)) == NULL) {
		ok(0, "open %s/%s", srcdir, ZXING_TSV);
		return;
	}
	if (fgets(line, sizeof(line), fp) == NULL ||
	    strncmp(line, "source_path\t", 12) != 0)
		ok(0, "zxing header");
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (split_tabs(line, f, 4) != 4) {
			ok(0, "zxing: malformed line '%s'", line);
			continue;
		}
		nrows++;
		len = strlen(f[2]);
		if (strncmp(f[1], "upce", 4) == 0) {
			nupce++;
			r = td_upce_expand(f[2], len, upca);
			ok(r == 0 &&
			    td_gtin_normalize(upca, 12, out, &code) == 0,
			    "%s: UPC-E %s -> UPC-A %s checks", f[1], f[2],
			    upca);
			continue;
		}
		pad = TD_GTIN_LEN - len;
		memset(want, '0', pad);
		memcpy(want + pad, f[2], len);
		want[TD_GTIN_LEN] = '\0';
		r = td_gtin_normalize(f[2], len, out, &code);
		ok(r == 0 && strcmp(out, want) == 0 && strcmp(f[3], "yes") == 0,
		    "%s: %s -> %s", f[1], f[2], out);

		/* every other last digit must fail the check */
		nbad_mut = 0;
		memcpy(mut, f[2], len + 1);
		for (d = 0; d < 10; d++) {
			if (d == f[2][len - 1] - '0')
				continue;
			mut[len - 1] = (char)('0' + d);
			r = td_gtin_normalize(mut, len, out, &code);
			if (r != TD_ERR_FORMAT || code == NULL ||
			    strcmp(code, "gtin_check_digit") != 0)
				nbad_mut++;
		}
		is_int(nbad_mut, 0, "%s: 9 wrong check digits rejected", f[2]);

		/* spreadsheet padding to 18 characters is accepted */
		memset(mut, '0', 18 - len);
		memcpy(mut + 18 - len, f[2], len);
		r = td_gtin_normalize(mut, 18, out, &code);
		if (r != 0 || strcmp(out, want) != 0)
			ok(0, "%s: zero padded to 18", f[2]);
		/* a dropped check digit (UPC-A as 11 digits, etc.) */
		r = td_gtin_normalize(f[2], len - 1, out, &code);
		if (len != 13 && len != 14 &&
		    (r != TD_ERR_FORMAT || strcmp(code, "gtin_length") != 0))
			ok(0, "%s: 11/7 digits not gtin_length", f[2]);
	}
	fclose(fp);
	ok(nrows == 390 && nupce == 55, "zxing rows: %zu, UPC-E %zu",
	    nrows, nupce);
}

static void
test_bots(void)
{
	FILE *fp;
	char line[1024], *p, *q, out[15];
	const char *code;
	size_t nval = 0, nfail = 0, k, len;
	int r, mine, naive;

	if ((fp = open_data(BOTS_CSV)) == NULL) {
		diag("SKIP %s/%s not found: bots-slsrpt block skipped",
		    srcdir, BOTS_CSV);
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		/* "date";"GLN";"EAN";"qty";"amount": fields 2 and 3 */
		p = line;
		for (k = 0; k < 3; k++) {
			if ((p = strstr(p, ";\"")) == NULL)
				break;
			p += 2;
			if ((q = strchr(p, '"')) == NULL)
				break;
			len = (size_t)(q - p);
			if (k == 2)
				break;
			nval++;
			mine = len > 1 ? td_gtin_check_digit(p, len - 1) : -1;
			naive = len > 1 ? naive_check(p, len - 1) : -2;
			r = td_gtin_normalize(p, len, out, &code);
			if (r != 0)
				nfail++;
			ok(mine == naive &&
			    (r == 0) == (mine == p[len - 1] - '0'),
			    "bots %.*s: check %d, naive %d, %s", (int)len, p,
			    mine, naive, r == 0 ? "valid" : code);
			p = q;
		}
	}
	fclose(fp);
	ok(nval == 784 && nfail == 668, "bots: %zu values, %zu fail the check",
	    nval, nfail);
}


/* Codes as exported in the wild, each defect declared by an option. */
static void
test_opts(void)
{
	static const struct {
		const char	*s;
		unsigned	 opts;
		const char	*want;	/* 14 digits, or the error code */
	} v[] = {
#define NC	TD_GTIN_NOCHECK
#define UE	TD_GTIN_UPCE
#define PD	TD_GTIN_PAD
		/* nocheck: UPC-A, EAN-13, GTIN-8 and GTIN-14 bodies */
		{ "04100000123", NC, "00041000001239" },
		{ "400638133393", NC, "04006381333931" },
		{ "9638507", NC, "00000096385074" },
		{ "1001234567890", NC, "10012345678902" },
		{ "041000001239", 0, "00041000001239" },
		{ "04100000123", 0, "gtin_length" },
		{ "0410000012", NC, "gtin_length" },
		{ "00041000001239", NC, "gtin_length" },
		{ "00000000000", NC, "gtin_zero" },
		/* upce: 8 digits with its check digit, 6 without */
		{ "04252614", UE, "00042100005264" },
		{ "425261", UE, "00042100005264" },
		{ "11234562", UE, "00112345000062" },
		{ "04252615", UE, "gtin_check_digit" },
		{ "24252614", UE, "gtin_upce" },
		{ "0425261", UE, "gtin_length" },
		{ "041000001239", UE, "00041000001239" },
		{ "04252614", 0, "gtin_check_digit" },
		/* upce nocheck: 7 digits with the number system, or 6 */
		{ "0425261", UE | NC, "00042100005264" },
		{ "425261", UE | NC, "00042100005264" },
		{ "1123456", UE | NC, "00112345000062" },
		{ "2123456", UE | NC, "gtin_upce" },
		{ "04252614", UE | NC, "gtin_length" },
		/* pad: leading zeros lost, the check digit still verified */
		{ "41000001239", PD, "00041000001239" },
		{ "96385074", PD, "00000096385074" },
		{ "6385074", PD, "gtin_check_digit" },
		{ "41000001238", PD, "gtin_check_digit" },
		{ "12345", PD, "gtin_length" },
		{ "41000001239", 0, "gtin_length" },
		/* pad and nocheck: a zero and the check digit lost */
		{ "4100000123", PD | NC, "00041000001239" },
		{ "4100000123", NC, "gtin_length" },
		{ "12a45678", PD | NC, "gtin_not_digits" },
#undef NC
#undef UE
#undef PD
	};
	char out[15];
	const char *code;
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(v); i++) {
		r = td_gtin_normalize_opts(v[i].s, strlen(v[i].s), v[i].opts,
		    out, &code);
		ok(strcmp(r == 0 ? out : code, v[i].want) == 0 &&
		    (r == 0) == (code == NULL), "gtin %s opts %u -> %s",
		    v[i].s, v[i].opts, r == 0 ? out : code);
	}
}

/* the check digit a value should end in, as the message gives it */
static void
test_want(void)
{
	static const struct {
		const char	*s;
		unsigned	 opts;
		const char	*code;		/* NULL: taken */
		int		 want;
	} v[] = {
		{ "041000001238", 0, "gtin_check_digit", 9 },
		{ "041000001239", 0, NULL, -1 },
		{ "4006381333932", 0, "gtin_check_digit", 1 },
		{ "96385075", 0, "gtin_check_digit", 4 },
		{ "10012345678901", 0, "gtin_check_digit", 2 },
		/* extra leading zeros and pad: the same digit */
		{ "00000041000001230", 0, "gtin_check_digit", 9 },
		{ "41000001238", TD_GTIN_PAD, "gtin_check_digit", 9 },
		/* a UPC-E's check digit is its UPC-A's */
		{ "04252615", TD_GTIN_UPCE, "gtin_check_digit", 4 },
		/* no check digit to be wrong */
		{ "41000001239", 0, "gtin_length", -1 },
		{ "000000000000", 0, "gtin_zero", -1 },
		{ "12a", 0, "gtin_not_digits", -1 },
	};
	char out[15];
	const char *code;
	size_t i;
	int r, want;

	for (i = 0; i < TD_NELEM(v); i++) {
		want = 42;
		r = td_gtin_normalize_want(v[i].s, strlen(v[i].s), v[i].opts,
		    out, &code, &want);
		ok((v[i].code == NULL ? r == 0 && code == NULL :
		    r == TD_ERR_FORMAT && code != NULL &&
		    strcmp(code, v[i].code) == 0) && want == v[i].want,
		    "want: %s opts %u -> %s, expected check digit %d",
		    v[i].s, v[i].opts, code ? code : "taken", want);
	}
}

int
main(void)
{
	const char *e;

	if ((e = getenv("srcdir")) != NULL && *e != '\0')
		srcdir = e;
	test_vectors();
	test_upce();
	test_opts();
	test_want();
	test_zxing();
	test_bots();
	return done_testing();
}
