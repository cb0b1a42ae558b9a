/*
 * currency.c - the ISO 4217 currencies and their minor units.
 *
 * Source: ISO 4217 List one ("Current currency & funds code list"), as
 * published by SIX Financial Information, the maintenance agency, on
 * 2025-05-12 (Amendment 179) and in force to the end of 2025: every
 * alphabetic code with its minor unit (CcyMnrUnts). It has XCG (from
 * 2025-03-31, for ANG), ZWG (2024, for ZWL), SLE (for SLL), VED and VES,
 * XAD (Amendment 179) and BGN (withdrawn 2026-01-01 for the euro: still
 * read, for 2025's sales restated later); ANG, CUC, HRK, SLL and ZWL
 * are in List three (historic) and are not here. Funds codes (BOV, CHE,
 * CHW, CLF, COU, MXV, USN, UYI, UYW, XAD) are in List one and are here.
 * NA marks "N.A.": the metals (XAG XAU XPD XPT), the bond market units
 * (XBA XBB XBC XBD), XDR, XSU, XUA, XTS (testing) and XXX (no currency).
 * An amendment of List one is a change of this table, tradedrop.conf(5)
 * and tests/unit/test-currency.c together.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "currency.h"

#define NA	(-1)

struct currency {
	char		code[4];
	signed char	minor;
};

/* sorted by code: td_currency_minor() searches it */
static const struct currency currencies[] = {
	{ "AED", 2 }, { "AFN", 2 }, { "ALL", 2 }, { "AMD", 2 },
	{ "AOA", 2 }, { "ARS", 2 }, { "AUD", 2 }, { "AWG", 2 },
	{ "AZN", 2 }, { "BAM", 2 }, { "BBD", 2 }, { "BDT", 2 },
	{ "BGN", 2 }, { "BHD", 3 }, { "BIF", 0 }, { "BMD", 2 },
	{ "BND", 2 }, { "BOB", 2 }, { "BOV", 2 }, { "BRL", 2 },
	{ "BSD", 2 }, { "BTN", 2 }, { "BWP", 2 }, { "BYN", 2 },
	{ "BZD", 2 }, { "CAD", 2 }, { "CDF", 2 }, { "CHE", 2 },
	{ "CHF", 2 }, { "CHW", 2 }, { "CLF", 4 }, { "CLP", 0 },
	{ "CNY", 2 }, { "COP", 2 }, { "COU", 2 }, { "CRC", 2 },
	{ "CUP", 2 }, { "CVE", 2 }, { "CZK", 2 }, { "DJF", 0 },
	{ "DKK", 2 }, { "DOP", 2 }, { "DZD", 2 }, { "EGP", 2 },
	{ "ERN", 2 }, { "ETB", 2 }, { "EUR", 2 }, { "FJD", 2 },
	{ "FKP", 2 }, { "GBP", 2 }, { "GEL", 2 }, { "GHS", 2 },
	{ "GIP", 2 }, { "GMD", 2 }, { "GNF", 0 }, { "GTQ", 2 },
	{ "GYD", 2 }, { "HKD", 2 }, { "HNL", 2 }, { "HTG", 2 },
	{ "HUF", 2 }, { "IDR", 2 }, { "ILS", 2 }, { "INR", 2 },
	{ "IQD", 3 }, { "IRR", 2 }, { "ISK", 0 }, { "JMD", 2 },
	{ "JOD", 3 }, { "JPY", 0 }, { "KES", 2 }, { "KGS", 2 },
	{ "KHR", 2 }, { "KMF", 0 }, { "KPW", 2 }, { "KRW", 0 },
	{ "KWD", 3 }, { "KYD", 2 }, { "KZT", 2 }, { "LAK", 2 },
	{ "LBP", 2 }, { "LKR", 2 }, { "LRD", 2 }, { "LSL", 2 },
	{ "LYD", 3 }, { "MAD", 2 }, { "MDL", 2 }, { "MGA", 2 },
	{ "MKD", 2 }, { "MMK", 2 }, { "MNT", 2 }, { "MOP", 2 },
	{ "MRU", 2 }, { "MUR", 2 }, { "MVR", 2 }, { "MWK", 2 },
	{ "MXN", 2 }, { "MXV", 2 }, { "MYR", 2 }, { "MZN", 2 },
	{ "NAD", 2 }, { "NGN", 2 }, { "NIO", 2 }, { "NOK", 2 },
	{ "NPR", 2 }, { "NZD", 2 }, { "OMR", 3 }, { "PAB", 2 },
	{ "PEN", 2 }, { "PGK", 2 }, { "PHP", 2 }, { "PKR", 2 },
	{ "PLN", 2 }, { "PYG", 0 }, { "QAR", 2 }, { "RON", 2 },
	{ "RSD", 2 }, { "RUB", 2 }, { "RWF", 0 }, { "SAR", 2 },
	{ "SBD", 2 }, { "SCR", 2 }, { "SDG", 2 }, { "SEK", 2 },
	{ "SGD", 2 }, { "SHP", 2 }, { "SLE", 2 }, { "SOS", 2 },
	{ "SRD", 2 }, { "SSP", 2 }, { "STN", 2 }, { "SVC", 2 },
	{ "SYP", 2 }, { "SZL", 2 }, { "THB", 2 }, { "TJS", 2 },
	{ "TMT", 2 }, { "TND", 3 }, { "TOP", 2 }, { "TRY", 2 },
	{ "TTD", 2 }, { "TWD", 2 }, { "TZS", 2 }, { "UAH", 2 },
	{ "UGX", 0 }, { "USD", 2 }, { "USN", 2 }, { "UYI", 0 },
	{ "UYU", 2 }, { "UYW", 4 }, { "UZS", 2 }, { "VED", 2 },
	{ "VES", 2 }, { "VND", 0 }, { "VUV", 0 }, { "WST", 2 },
	{ "XAD", 2 }, { "XAF", 0 }, { "XAG", NA }, { "XAU", NA },
	{ "XBA", NA }, { "XBB", NA }, { "XBC", NA }, { "XBD", NA },
	{ "XCD", 2 }, { "XCG", 2 }, { "XDR", NA }, { "XOF", 0 },
	{ "XPD", NA }, { "XPF", 0 }, { "XPT", NA }, { "XSU", NA },
	{ "XTS", NA }, { "XUA", NA }, { "XXX", NA }, { "YER", 2 },
	{ "ZAR", 2 }, { "ZMW", 2 }, { "ZWG", 2 },
};

static int
currency_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct currency *)elem)->code);
}

int
td_currency_minor(const char *s)
{
	const struct currency *c;

	if (s == NULL || strlen(s) != 3)
		return TD_ERR_NOTFOUND;
	c = bsearch(s, currencies, TD_NELEM(currencies), sizeof(*c),
	    currency_cmp);
	if (c == NULL)
		return TD_ERR_NOTFOUND;
	return c->minor == NA ? TD_ERR_INVAL : c->minor;
}
