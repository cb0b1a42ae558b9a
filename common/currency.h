/*
 * currency.h - the ISO 4217 currencies and their minor units: what
 * [integration] currency may name (common/conf.c) and how many decimals
 * an amount in it has (agent/map.c). One table, in currency.c.
 */
#ifndef TD_CURRENCY_H
#define TD_CURRENCY_H

#define TD_CURRENCY_MAX_MINOR	4	/* CLF and UYW */

/*
 * The minor unit of the ISO 4217 alphabetic code s, exactly as written
 * (three capital letters, a NUL): 0 to TD_CURRENCY_MAX_MINOR, the
 * decimals of an amount in it. TD_ERR_INVAL for a code of List one
 * whose minor unit is "N.A." (the metals, the bond market and drawing
 * units, XTS, XXX): no amount can be written in it. TD_ERR_NOTFOUND
 * for anything else: a code not in List one (a typo, a code since
 * withdrawn), lower case, not three letters.
 */
int	 td_currency_minor(const char *s);

#endif
