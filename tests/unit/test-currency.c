/* test-currency.c - unit tests for common/currency.c */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "currency.h"
#include "tap.h"

/*
 * ISO 4217 List one of 2025-05-12 by minor unit, written out apart from
 * the table: every three capital letters are looked up, so a code the
 * table has and this list has not (or the other way) fails, as does a
 * table out of order (the search would miss codes).
 */
static const char *by_minor[] = {
	/* 0 */ "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV "
	    "XAF XOF XPF",
	/* 1 */ "",
	/* 2 */ "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD "
	    "BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY "
	    "COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
	    "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR "
	    "JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA "
	    "MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO "
	    "NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
	    "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
	    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XAD "
	    "XCD XCG YER ZAR ZMW ZWG",
	/* 3 */ "BHD IQD JOD KWD LYD OMR TND",
	/* 4 */ "CLF UYW",
};
/* in List one with minor unit "N.A." */
static const char na[] = "XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA "
    "XXX";

static const struct {
	const char	*code;
	int		 want;
	const char	*why;
} cases[] = {
	{ "USD", 2, "2" }, { "EUR", 2, "2" }, { "JPY", 0, "0" },
	{ "KWD", 3, "3" }, { "CLF", 4, "4" }, { "UYW", 4, "4" },
	{ "XAU", TD_ERR_INVAL, "gold: N.A." },
	{ "XXX", TD_ERR_INVAL, "no currency: N.A." },
	/* withdrawn, in List three */
	{ "HRK", TD_ERR_NOTFOUND, "withdrawn 2023 (EUR)" },
	{ "ANG", TD_ERR_NOTFOUND, "withdrawn 2025 (XCG)" },
	{ "SLL", TD_ERR_NOTFOUND, "withdrawn (SLE)" },
	{ "ZWL", TD_ERR_NOTFOUND, "withdrawn 2024 (ZWG)" },
	{ "CUC", TD_ERR_NOTFOUND, "withdrawn" },
	{ "XYZ", TD_ERR_NOTFOUND, "unknown" },
	{ "EUE", TD_ERR_NOTFOUND, "a typo" },
	{ "usd", TD_ERR_NOTFOUND, "lower case" },
	{ "USDX", TD_ERR_NOTFOUND, "four letters" },
	{ "US", TD_ERR_NOTFOUND, "two letters" },
	{ "", TD_ERR_NOTFOUND, "empty" },
	{ NULL, TD_ERR_NOTFOUND, "no text" },
};

static int
expected(const char *code)
{
	int m;

	for (m = 0; m < (int)TD_NELEM(by_minor); m++)
		if (strstr(by_minor[m], code) != NULL &&
		    (strstr(by_minor[m], code) - by_minor[m]) % 4 == 0)
			return m;
	if (strstr(na, code) != NULL && (strstr(na, code) - na) % 4 == 0)
		return TD_ERR_INVAL;
	return TD_ERR_NOTFOUND;
}

/*
 * tradedrop.conf(5) lists, under currency, the codes of each minor unit
 * (".It 0" and its text): each list is the table's, whole, so that the
 * page check's message points to says what check takes.
 */
static void
test_man(void)
{
	const char *e = getenv("srcdir"), *p, *end, *it;
	char path[4096], *text = NULL, code[4];
	size_t len = 0;
	int m, got[TD_CURRENCY_MAX_MINOR + 1], want[TD_CURRENCY_MAX_MINOR + 1];
	int wrong = 0, a, b, c;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/man/tradedrop.conf.5",
	    e != NULL && *e != '\0' ? e : ".");
	if ((fp = fopen(path, "r")) == NULL) {
		ok(0, "open %s", path);
		return;
	}
	text = calloc(1, 1 << 20);
	len = text != NULL ? fread(text, 1, (1 << 20) - 1, fp) : 0;
	fclose(fp);
	p = len > 0 ? strstr(text, "\n.It Cm currency Ar code\n") : NULL;
	end = p != NULL ? strstr(p + 1, "\n.It Cm ") : NULL;
	ok(p != NULL && end != NULL, "tradedrop.conf(5) has currency");
	for (m = 0; m <= TD_CURRENCY_MAX_MINOR; m++)
		got[m] = want[m] = 0;
	for (a = 'A'; a <= 'Z'; a++)
		for (b = 'A'; b <= 'Z'; b++)
			for (c = 'A'; c <= 'Z'; c++) {
				snprintf(code, sizeof(code), "%c%c%c", a, b, c);
				if ((m = td_currency_minor(code)) >= 0)
					want[m]++;
			}
	/* each ".It N" item: its text to the next line starting with '.' */
	for (it = p; it != NULL && end != NULL && it < end &&
	    (it = strstr(it, "\n.It ")) != NULL && it < end; it++) {
		const char *q = it + 5, *stop;

		if (q[0] < '0' || q[0] > '9' || q[1] != '\n')
			continue;
		m = q[0] - '0';
		for (stop = q + 2; *stop != '\0' && !(stop[-1] == '\n' &&
		    stop[0] == '.'); stop++)
			;
		for (q += 2; q + 3 <= stop; q++) {
			/* three capitals standing alone, a code */
			if ((q[-1] >= 'A' && q[-1] <= 'Z') ||
			    strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
				continue;
			memcpy(code, q, 3);
			code[3] = '\0';
			if (m > TD_CURRENCY_MAX_MINOR ||
			    td_currency_minor(code) != m) {
				if (wrong++ < 10)
					diag("tradedrop.conf(5) has %s under %d, "
					    "the table %d", code, m,
					    td_currency_minor(code));
			} else if (strstr(q + 3, code) == NULL ||
			    strstr(q + 3, code) >= stop)
				got[m]++;	/* counted at its last mention */
			q += 2;
		}
	}
	is_int(wrong, 0, "tradedrop.conf(5): no code under a minor unit "
	    "that is not its own");
	for (m = 0; m <= TD_CURRENCY_MAX_MINOR; m++)
		is_int(got[m], want[m], "tradedrop.conf(5) lists all %d "
		    "codes of minor unit %d", want[m], m);
	free(text);
}

int
main(void)
{
	char code[4];
	int a, b, c, got, want, bad = 0, n = 0, nna = 0;
	size_t i;

	for (a = 'A'; a <= 'Z'; a++)
		for (b = 'A'; b <= 'Z'; b++)
			for (c = 'A'; c <= 'Z'; c++) {
				snprintf(code, sizeof(code), "%c%c%c", a, b, c);
				got = td_currency_minor(code);
				want = expected(code);
				n += got >= 0;
				nna += got == TD_ERR_INVAL;
				if (got != want && bad++ < 10)
					diag("%s: got %d, want %d", code, got,
					    want);
			}
	is_int(bad, 0, "every code of three capital letters as List one "
	    "says");
	is_int(n, 166, "166 currencies with a minor unit");
	is_int(nna, 13, "13 with N.A.");

	for (i = 0; i < TD_NELEM(cases); i++)
		is_int(td_currency_minor(cases[i].code), cases[i].want, "%s: %s",
		    cases[i].code != NULL ? cases[i].code : "NULL",
		    cases[i].why);
	ok(TD_CURRENCY_MAX_MINOR == 4, "TD_CURRENCY_MAX_MINOR is CLF's 4");
	test_man();
	return done_testing();
}
