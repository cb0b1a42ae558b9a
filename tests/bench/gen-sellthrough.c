/*
 * gen-sellthrough.c - a seeded generator of a retailer's weekly
 * sell-through CSV export, for `make bench`.
 *
 *	gen-sellthrough [-s SIZE] [-S SEED] [-o FILE]
 *	gen-sellthrough -x RECORDS [-S SEED] [-o FILE]
 *
 * The output looks like a large US retailer's store/item/week extract:
 * Windows-1252 text, CRLF line ends, a quoted header
 *
 *	"Store Nbr","Week Ending","UPC","Item Description","Units",
 *	"Net Sales $","Promo"
 *
 * and one row per store, week and item sold.  Stores are 1..5000, weeks
 * end on the Saturdays of 2025 and 2026 (MM/DD/YYYY), UPCs are 12-digit
 * UPC-A with a correct GS1 check digit from a catalogue of 20000 items.
 * Descriptions are always quoted and hold commas, doubled quotes and
 * cp1252 punctuation (0x92 0x93 0x94 0x96 0xAE 0xE9).  Units are mostly
 * 1..60 with about 3% returns (negative units and negative sales); Net
 * Sales $ is units times the shelf price (less a promotion discount) in
 * exact cents; Promo is empty about 70% of the time, else TPR1234,
 * BOGO12 or DISP7.  Every column but the description is ASCII.
 *
 * Rows come in runs of one store-week each (items ascending), the
 * store-weeks in a scrambled order so that even a small file spans all
 * stores and weeks.  A store-week appears once in the first ~3.5 GB;
 * larger outputs start over with new item draws, repeating store-week
 * keys.
 *
 * The output is a pure function of SEED and SIZE, and the output for a
 * smaller SIZE is a prefix of the output for a larger one.  It stops at
 * the last whole row that fits in SIZE bytes (K, M, G: powers of 1024;
 * default 1G).  Numbers are formatted by hand into a large buffer
 * written with write(2): several hundred MB/s on one core.
 *
 * With -x the output is instead an X12 852 (Product Activity Data,
 * 004010) of about RECORDS sell-through quantities, for case C of
 * `make bench`: one interchange and one group, a transaction set per
 * week (XQ*H with the week's Sunday and Saturday, N1*RL), and per item
 * of the catalogue sold that week a LIN (UP, the UPC, and IN, a
 * retailer item number), ZA*QS with the week's total units and SDQ
 * segments of up to 10 store/quantity pairs (the stores ascending, one
 * in 120 to 520 of the 5000 by item, as the CSV's density); about one item in eight also has
 * a ZA*QA (on hand) with its own SDQ, which tradedrop counts as skipped.
 * It stops at the first item that reaches RECORDS quantities (ZA*QS
 * pairs), and every envelope count and control number is right.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GEN_STORES	5000
#define GEN_ITEMS	20000
#define GEN_MFRS	400
#define GEN_MAXWEEKS	110
#define GEN_DESC_MAX	160		/* quoted description, bytes */
#define GEN_ROW_MAX	(GEN_DESC_MAX + 96)
#define GEN_BUFSZ	(1 << 20)

static const char gen_header[] =
    "\"Store Nbr\",\"Week Ending\",\"UPC\",\"Item Description\","
    "\"Units\",\"Net Sales $\",\"Promo\"\r\n";

/* Catalogue text, Windows-1252.  A literal quote is written doubled. */
static const char *const gen_brands[] = {
	"Acme", "Kellogg\x92s", "Caf\xe9 Royale", "Brite\xae", "Nature\x92s Path",
	"Dr. Fresh", "Sun Valley\xae", "Maple Grove", "Old Mill", "Crunchy\xae",
	"Hearth & Home", "Blue Ridge", "Chef\x92s Choice", "Gold Leaf",
	"Pacific Coast", "Little Bear", "Green Acres", "Mama Rosa\x92s",
	"Entr\xe9" "e Kitchen", "Pur\xe9 Spring", "Northwind", "Everyday Value",
	"Big \x93Red\x94 Barn", "Sno-Cap", "Riverbend", "Tidy\xae Home",
	"Golden Harvest", "Prairie Sun", "Summit", "Bayside"
};
static const char *const gen_products[] = {
	"Corn Flakes", "Granola Bars", "Ground Coffee", "Laundry Detergent",
	"Paper Towels", "Dish Soap", "Orange Juice", "Greek Yogurt",
	"Potato Chips", "Sparkling Water", "Frozen Pizza", "Pasta Sauce",
	"Peanut Butter", "Shampoo", "Toothpaste", "Dog Food", "Cat Litter",
	"Trash Bags", "AA Batteries", "Cola", "Sub Rolls", "Aluminum Foil",
	"Tortilla Chips", "Ice Cream", "Caf\xe9 Latte K-Cups", "Body Wash",
	"Macaroni & Cheese", "Chicken Broth", "Salsa", "Cookies"
};
static const char *const gen_variants[] = {
	"", "", "", ", Honey Almond", ", Original", " \x93" "Family Size\x94",
	", Low Sodium", " Multi\x96Pack", ", Extra Strength", " \x96 Value Pack",
	", \x93New!\x94", ", Fragrance Free", " Lemon, Lime", " Pur\xe9" "e",
	", Chef\x92s Recipe", " \x93Limited Edition\x94"
};

/* splitmix64: seeds everything and drives the row stream. */
struct gen_rng {
	uint64_t	s;
};

static inline uint64_t
gen_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t
gen_next(struct gen_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return gen_mix(r->s);
}

/* A number in [0, n), n < 2^32 (multiply-shift; the bias is negligible). */
static inline uint32_t
gen_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t)(((gen_next(r) >> 32) * (uint64_t)n) >> 32);
}

struct gen_item {
	char		 upc[12];
	uint32_t	 price;		/* shelf price, cents */
	uint8_t		 desc_len;	/* of gen_desc[item] */
};

static struct gen_item	 gen_items[GEN_ITEMS];
static char		 gen_desc[GEN_ITEMS][GEN_DESC_MAX];
static char		 gen_weeks[GEN_MAXWEEKS][10];
static unsigned		 gen_nweeks;

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
static long
gen_days_from_civil(long y, unsigned m, unsigned d)
{
	long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

static void
gen_civil_from_days(long z, long *y, unsigned *m, unsigned *d)
{
	long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long)yoe + era * 400 + (*m <= 2);
}

static void
gen_put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* The Saturdays of 2025 and 2026 as MM/DD/YYYY. */
static void
gen_make_weeks(void)
{
	long day, y;
	unsigned m, d;

	/* 2025-01-04 is the first Saturday of 2025 */
	for (day = gen_days_from_civil(2025, 1, 4);; day += 7) {
		gen_civil_from_days(day, &y, &m, &d);
		if (y > 2026 || gen_nweeks == GEN_MAXWEEKS)
			break;
		gen_put2(gen_weeks[gen_nweeks], m);
		gen_weeks[gen_nweeks][2] = '/';
		gen_put2(gen_weeks[gen_nweeks] + 3, d);
		gen_weeks[gen_nweeks][5] = '/';
		gen_put2(gen_weeks[gen_nweeks] + 6, (unsigned)(y / 100));
		gen_put2(gen_weeks[gen_nweeks] + 8, (unsigned)(y % 100));
		gen_nweeks++;
	}
}

/* Append s to the description being built, bounded. */
static size_t
gen_dput(char *d, size_t n, const char *s)
{
	size_t l = strlen(s);

	if (n + l > GEN_DESC_MAX - 2)
		l = GEN_DESC_MAX - 2 - n;
	memcpy(d + n, s, l);
	return n + l;
}

static size_t
gen_dnum(char *d, size_t n, unsigned v)
{
	char t[12];
	size_t i = sizeof(t);

	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && i > 0);
	if (n + (sizeof(t) - i) > GEN_DESC_MAX - 2)
		return n;
	memcpy(d + n, t + i, sizeof(t) - i);
	return n + (sizeof(t) - i);
}

/* The quoted description field of item i. */
static size_t
gen_make_desc(struct gen_rng *r, unsigned mfr, char *d)
{
	size_t n = 0;
	unsigned k;

	d[n++] = '"';
	n = gen_dput(d, n, gen_brands[mfr % (sizeof(gen_brands) /
	    sizeof(gen_brands[0]))]);
	n = gen_dput(d, n, " ");
	n = gen_dput(d, n, gen_products[gen_below(r, sizeof(gen_products) /
	    sizeof(gen_products[0]))]);
	n = gen_dput(d, n, gen_variants[gen_below(r, sizeof(gen_variants) /
	    sizeof(gen_variants[0]))]);
	n = gen_dput(d, n, gen_below(r, 2) ? ", " : " ");
	switch (gen_below(r, 6)) {
	case 0:		/* 12"" x 75 ft */
		n = gen_dnum(d, n, 8 + gen_below(r, 12));
		n = gen_dput(d, n, "\"\" x ");
		n = gen_dnum(d, n, 25 + 25 * gen_below(r, 8));
		n = gen_dput(d, n, " ft");
		break;
	case 1:
		n = gen_dnum(d, n, 6 * (1 + gen_below(r, 8)));
		n = gen_dput(d, n, " ct");
		break;
	case 2:		/* 6"" rolls */
		n = gen_dnum(d, n, 4 + gen_below(r, 9));
		n = gen_dput(d, n, "\"\" ");
		n = gen_dnum(d, n, 4 + 2 * gen_below(r, 4));
		n = gen_dput(d, n, "pk");
		break;
	case 3:
		k = 1 + gen_below(r, 3);
		n = gen_dnum(d, n, k);
		n = gen_dput(d, n, ".");
		n = gen_dnum(d, n, 5 * gen_below(r, 2));
		n = gen_dput(d, n, " L");
		break;
	default:
		n = gen_dnum(d, n, 4 + gen_below(r, 60));
		n = gen_dput(d, n, gen_below(r, 3) ? " oz" : " fl oz");
		break;
	}
	d[n++] = '"';
	return n;
}

/* GS1 check digit of the 11 digits in u. */
static char
gen_check_digit(const char *u)
{
	unsigned i, s = 0;

	for (i = 0; i < 11; i++)
		s += (unsigned)(u[i] - '0') * (i % 2 == 0 ? 3 : 1);
	return (char)('0' + (10 - s % 10) % 10);
}

static void
gen_make_catalogue(uint64_t seed)
{
	struct gen_rng r = { gen_mix(seed ^ 0xca7a1095ULL) };
	static const char nsys[] = { '0', '0', '0', '0', '1', '3', '7', '7' };
	char mprefix[GEN_MFRS][6];
	unsigned mnext[GEN_MFRS], m, i, code;

	/* manufacturers: distinct 5-digit codes (steps of 211, jitter 200) */
	for (m = 0; m < GEN_MFRS; m++) {
		code = 10000 + m * 211 + gen_below(&r, 200);
		mprefix[m][0] = nsys[gen_below(&r, sizeof(nsys))];
		mprefix[m][1] = (char)('0' + code / 10000 % 10);
		mprefix[m][2] = (char)('0' + code / 1000 % 10);
		mprefix[m][3] = (char)('0' + code / 100 % 10);
		mprefix[m][4] = (char)('0' + code / 10 % 10);
		mprefix[m][5] = (char)('0' + code % 10);
		mnext[m] = gen_below(&r, 1000);
	}
	for (i = 0; i < GEN_ITEMS; i++) {
		struct gen_item *it = &gen_items[i];

		m = gen_below(&r, GEN_MFRS);
		/* product codes rise by 1..40: about 50 items, < 3100 */
		code = mnext[m];
		mnext[m] += 1 + gen_below(&r, 40);
		memcpy(it->upc, mprefix[m], 6);
		it->upc[6] = (char)('0' + code / 10000 % 10);
		it->upc[7] = (char)('0' + code / 1000 % 10);
		it->upc[8] = (char)('0' + code / 100 % 10);
		it->upc[9] = (char)('0' + code / 10 % 10);
		it->upc[10] = (char)('0' + code % 10);
		it->upc[11] = gen_check_digit(it->upc);
		/* shelf prices 0.79 .. 24.99, most under 6 */
		it->price = 79 + gen_below(&r, 500) +
		    (gen_below(&r, 4) == 0 ? gen_below(&r, 1920) : 0);
		if (it->price % 100 < 50)
			it->price = it->price / 100 * 100 + 49;
		else
			it->price = it->price / 100 * 100 + 99;
		it->desc_len = (uint8_t)gen_make_desc(&r, m, gen_desc[i]);
	}
}

struct gen_out {
	int		 fd;
	char		*buf;
	size_t		 len;
	uint64_t	 total;		/* bytes accepted so far */
	uint64_t	 limit;
};

static int
gen_flush(struct gen_out *o)
{
	size_t off = 0;
	ssize_t w;

	while (off < o->len) {
		w = write(o->fd, o->buf + off, o->len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	o->len = 0;
	return 0;
}

/* Write v (may be negative) in decimal at p; return the end. */
static inline char *
gen_int(char *p, long v)
{
	char t[24];
	size_t i = sizeof(t);
	unsigned long u;

	if (v < 0) {
		*p++ = '-';
		u = (unsigned long)-v;
	} else
		u = (unsigned long)v;
	do {
		t[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	memcpy(p, t + i, sizeof(t) - i);
	return p + (sizeof(t) - i);
}

/* Cents as an exact two-decimal number: -12.34, 0.99, 1234.00. */
static inline char *
gen_money(char *p, long cents)
{
	unsigned long u;

	if (cents < 0) {
		*p++ = '-';
		u = (unsigned long)-cents;
	} else
		u = (unsigned long)cents;
	p = gen_int(p, (long)(u / 100));
	*p++ = '.';
	gen_put2(p, (unsigned)(u % 100));
	return p + 2;
}

/* The week's promotion of an item, shared by all stores: 0 = none. */
static inline uint64_t
gen_promo(uint64_t seed, unsigned week, unsigned item)
{
	uint64_t h = gen_mix(seed ^ ((uint64_t)week << 32 | item) ^
	    0x9e0c0de5ULL);

	return (h % 100 < 30) ? (h | 1) : 0;
}

static char *
gen_promo_code(char *p, uint64_t h)
{
	unsigned k = (unsigned)(h >> 8);

	switch ((h >> 40) % 4) {
	case 0:
	case 1:
		memcpy(p, "TPR", 3);
		p += 3;
		gen_put2(p, k / 100 % 100);
		gen_put2(p + 2, k % 100);
		return p + 4;
	case 2:
		memcpy(p, "BOGO", 4);
		p += 4;
		gen_put2(p, k % 100);
		return p + 2;
	default:
		memcpy(p, "DISP", 4);
		return gen_int(p + 4, 1 + (long)(k % 99));
	}
}

/* Append one row; 0 if it fits in the limit, 1 if the output is full. */
static inline int
gen_row(struct gen_out *o, struct gen_rng *r, uint64_t seed,
    unsigned store, unsigned week, unsigned item)
{
	const struct gen_item *it = &gen_items[item];
	char *p0, *p;
	uint32_t x;
	long units, cents;
	uint64_t promo;
	size_t n;

	if (o->len + GEN_ROW_MAX > GEN_BUFSZ && gen_flush(o) != 0)
		return -1;
	p0 = p = o->buf + o->len;
	p = gen_int(p, (long)store);
	*p++ = ',';
	memcpy(p, gen_weeks[week], 10);
	p += 10;
	*p++ = ',';
	memcpy(p, it->upc, 12);
	p += 12;
	*p++ = ',';
	memcpy(p, gen_desc[item], it->desc_len);
	p += it->desc_len;
	*p++ = ',';

	x = gen_below(r, 1000);
	if (x < 30)				/* returns */
		units = -1 - (long)gen_below(r, 3);
	else if (x < 35)			/* case-pack buys */
		units = 61 + (long)gen_below(r, 240);
	else {					/* 1..60, mostly small */
		x = gen_below(r, 60);
		units = 1 + (long)(x * gen_below(r, 61) / 60);
	}
	promo = gen_promo(seed, week, item);
	cents = units * (long)it->price;
	if (promo != 0)				/* 5..25% off, cents exact */
		cents = cents * (long)(75 + promo % 21) / 100;
	p = gen_int(p, units);
	*p++ = ',';
	p = gen_money(p, cents);
	*p++ = ',';
	if (promo != 0)
		p = gen_promo_code(p, promo);
	*p++ = '\r';
	*p++ = '\n';

	n = (size_t)(p - p0);
	if (o->total + n > o->limit)
		return 1;
	o->len += n;
	o->total += n;
	return 0;
}


/* ------------------------------------------------------------ -x: 852 */

#define GEN_SDQ_PAIRS	10
#define GEN_SEG_MAX	256

struct gen_x12 {
	struct gen_out	*o;
	uint64_t	 segs;		/* in the set, ST and SE included */
};

static int
gen_x12_put(struct gen_x12 *x, const char *s, size_t n)
{
	if (x->o->len + n > GEN_BUFSZ && gen_flush(x->o) != 0)
		return -1;
	memcpy(x->o->buf + x->o->len, s, n);
	x->o->len += n;
	x->o->total += n;
	return 0;
}

/* One segment from the text in t up to p, with its terminator. */
static int
gen_x12_seg(struct gen_x12 *x, char *t, char *p)
{
	*p++ = '~';
	*p++ = '\n';
	x->segs++;
	return gen_x12_put(x, t, (size_t)(p - t));
}

/* A week's Saturday MM/DD/YYYY as CCYYMMDD, and its Sunday before. */
static void
gen_x12_week(unsigned week, char *sun, char *sat)
{
	const char *w = gen_weeks[week];
	long y;
	unsigned m, d;

	memcpy(sat, w + 6, 4);
	memcpy(sat + 4, w, 2);
	memcpy(sat + 6, w + 3, 2);
	/* MM/DD/YYYY, not NUL-terminated */
	y = (w[6] - '0') * 1000 + (w[7] - '0') * 100 + (w[8] - '0') * 10 +
	    (w[9] - '0');
	m = (unsigned)((w[0] - '0') * 10 + (w[1] - '0'));
	d = (unsigned)((w[3] - '0') * 10 + (w[4] - '0'));
	gen_civil_from_days(gen_days_from_civil(y, m, d) - 6, &y, &m, &d);
	gen_put2(sun, (unsigned)(y / 100));
	gen_put2(sun + 2, (unsigned)(y % 100));
	gen_put2(sun + 4, m);
	gen_put2(sun + 6, d);
}

/* ZA*code*total*EA and its SDQ segments for the n stores and units. */
static int
gen_x12_za(struct gen_x12 *x, const char *code, const unsigned *stores,
    const long *units, unsigned n)
{
	char t[GEN_SEG_MAX], *p;
	long total = 0;
	unsigned i, k;

	for (i = 0; i < n; i++)
		total += units[i];
	p = t;
	memcpy(p, "ZA*", 3);
	memcpy(p + 3, code, 2);
	p[5] = '*';
	p = gen_int(p + 6, total);
	memcpy(p, "*EA", 3);
	if (gen_x12_seg(x, t, p + 3) != 0)
		return -1;
	for (i = 0; i < n; i += GEN_SDQ_PAIRS) {
		p = t;
		memcpy(p, "SDQ*EA*92", 9);
		p += 9;
		for (k = i; k < n && k < i + GEN_SDQ_PAIRS; k++) {
			*p++ = '*';
			p = gen_int(p, (long)stores[k]);
			*p++ = '*';
			p = gen_int(p, units[k]);
		}
		if (gen_x12_seg(x, t, p) != 0)
			return -1;
	}
	return 0;
}

static int
gen_x12(struct gen_out *o, uint64_t seed, uint64_t records)
{
	static const char isa[] = "ISA*00*          *00*          "
	    "*ZZ*BENCHMART      *ZZ*BENCHVENDOR    *261130*0930*U*00401"
	    "*000000001*0*P*>~\n"
	    "GS*PD*BENCHMART*BENCHVENDOR*20261130*0930*1*X*004010~\n";
	struct gen_x12 x = { o, 0 };
	struct gen_rng r = { gen_mix(seed ^ 0x852ULL) };
	unsigned stores[GEN_STORES], store, week, item, n, meanskip, sets = 0;
	long units[GEN_STORES];
	uint64_t done = 0;
	char t[GEN_SEG_MAX], *p, sun[8], sat[8], ctl[4];
	uint32_t u;

	if (gen_x12_put(&x, isa, sizeof(isa) - 1) != 0)
		return -1;
	for (week = 0; done < records; week = (week + 1) % gen_nweeks) {
		sets++;
		gen_put2(ctl, sets / 100 % 100);
		gen_put2(ctl + 2, sets % 100);
		x.segs = 0;
		p = t;
		memcpy(p, "ST*852*", 7);
		memcpy(p + 7, ctl, 4);
		if (gen_x12_seg(&x, t, p + 11) != 0)
			return -1;
		gen_x12_week(week, sun, sat);
		memcpy(t, "XQ*H*", 5);
		memcpy(t + 5, sun, 8);
		t[13] = '*';
		memcpy(t + 14, sat, 8);
		if (gen_x12_seg(&x, t, t + 22) != 0)
			return -1;
		p = t;
		memcpy(p, "N1*RL*BENCHMART*92*HQ", 21);
		if (gen_x12_seg(&x, t, p + 21) != 0)
			return -1;
		for (item = 0; item < GEN_ITEMS && done < records; item++) {
			/* the stores that sold the item, 1 in 120..520 */
			n = 0;
			meanskip = 120 + (unsigned)(gen_mix(seed ^ item) % 400);
			for (store = 1 + gen_below(&r, meanskip);
			    store <= GEN_STORES;
			    store += 1 + gen_below(&r, 2 * meanskip)) {
				u = gen_below(&r, 1000);
				stores[n] = store;
				units[n++] = u < 30 ? -1 - (long)gen_below(&r, 3) :
				    1 + (long)gen_below(&r, 24);
			}
			if (n == 0)
				continue;
			if (n > records - done)
				n = (unsigned)(records - done);
			p = t;
			memcpy(p, "LIN**UP*", 8);
			memcpy(p + 8, gen_items[item].upc, 12);
			memcpy(p + 20, "*IN*", 4);
			p = gen_int(p + 24, 100000 + (long)item);
			if (gen_x12_seg(&x, t, p) != 0 ||
			    gen_x12_za(&x, "QS", stores, units, n) != 0)
				return -1;
			done += n;
			if (gen_below(&r, 8) == 0) {
				for (u = 0; u < n; u++)
					units[u] = 4 + (long)gen_below(&r, 90);
				if (gen_x12_za(&x, "QA", stores, units, n) != 0)
					return -1;
			}
		}
		p = t;
		memcpy(p, "SE*", 3);
		p = gen_int(p + 3, (long)x.segs + 1);
		*p++ = '*';
		memcpy(p, ctl, 4);
		if (gen_x12_seg(&x, t, p + 4) != 0)
			return -1;
	}
	p = t;
	memcpy(p, "GE*", 3);
	p = gen_int(p + 3, (long)sets);
	memcpy(p, "*1~\nIEA*1*000000001", 19);
	return gen_x12_seg(&x, t, p + 19);
}

static int
gen_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0' &&
	    !((end[1] == 'B' || end[1] == 'b') && end[2] == '\0'))
		return -1;
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static void
gen_usage(void)
{
	fprintf(stderr, "usage: gen-sellthrough [-s SIZE[K|M|G]] [-S SEED] "
	    "[-o FILE]\n"
	    "       gen-sellthrough -x RECORDS [-S SEED] [-o FILE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct gen_out o = { 1, NULL, 0, 0, (uint64_t)1 << 30 };
	struct gen_rng r;
	const char *outfile = NULL;
	uint64_t seed = 1, b, nblocks, idx, x12 = 0;
	unsigned store, week, item, meanskip;
	char *end;
	int c, full = 0;

	while ((c = getopt(argc, argv, "s:S:o:x:h")) != -1) {
		switch (c) {
		case 's':
			if (gen_parse_size(optarg, &o.limit) != 0) {
				fprintf(stderr, "gen-sellthrough: bad size "
				    "'%s'\n", optarg);
				return 2;
			}
			break;
		case 'S':
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (errno != 0 || *optarg == '\0' || *end != '\0') {
				fprintf(stderr, "gen-sellthrough: bad seed "
				    "'%s'\n", optarg);
				return 2;
			}
			break;
		case 'o':
			outfile = optarg;
			break;
		case 'x':
			errno = 0;
			x12 = strtoull(optarg, &end, 10);
			if (errno != 0 || *optarg < '1' || *optarg > '9' ||
			    *end != '\0') {
				fprintf(stderr, "gen-sellthrough: bad record "
				    "count '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			gen_usage();
		}
	}
	if (optind != argc)
		gen_usage();
	if (o.limit < sizeof(gen_header) - 1) {
		fprintf(stderr, "gen-sellthrough: size below the header's "
		    "%zu bytes\n", sizeof(gen_header) - 1);
		return 2;
	}
	if (outfile != NULL && strcmp(outfile, "-") != 0) {
		o.fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
		if (o.fd == -1) {
			fprintf(stderr, "gen-sellthrough: %s: %s\n", outfile,
			    strerror(errno));
			return 1;
		}
	}
	if ((o.buf = malloc(GEN_BUFSZ)) == NULL) {
		fprintf(stderr, "gen-sellthrough: out of memory\n");
		return 1;
	}

	gen_make_weeks();
	gen_make_catalogue(seed);
	if (x12 != 0) {
		if (gen_x12(&o, seed, x12) != 0 || gen_flush(&o) != 0)
			goto werr;
		if (o.fd != 1 && close(o.fd) != 0)
			goto werr;
		free(o.buf);
		return 0;
	}
	memcpy(o.buf, gen_header, sizeof(gen_header) - 1);
	o.len = o.total = sizeof(gen_header) - 1;

	/*
	 * Store-week blocks in the order of a multiplicative permutation of
	 * 0..nblocks-1 (the multiplier is odd, not a multiple of 5 or 13,
	 * so coprime to 5000 * 104).  Each block sells a random ascending
	 * subset of the catalogue whose density depends on the store.
	 */
	r.s = gen_mix(seed ^ 0x5e11ULL);
	nblocks = (uint64_t)GEN_STORES * gen_nweeks;
	for (b = 0; !full; b++) {
		idx = (b % nblocks) * 300007ULL % nblocks;
		store = (unsigned)(idx % GEN_STORES) + 1;
		week = (unsigned)(idx / GEN_STORES);
		meanskip = 120 + (unsigned)(gen_mix(seed ^ store) % 400);
		for (item = gen_below(&r, meanskip); item < GEN_ITEMS;
		    item += 1 + gen_below(&r, 2 * meanskip)) {
			c = gen_row(&o, &r, seed, store, week, item);
			if (c < 0)
				goto werr;
			if (c > 0) {
				full = 1;
				break;
			}
		}
	}
	if (gen_flush(&o) != 0)
		goto werr;
	if (o.fd != 1 && close(o.fd) != 0)
		goto werr;
	free(o.buf);
	return 0;
werr:
	fprintf(stderr, "gen-sellthrough: write %s: %s\n",
	    outfile != NULL ? outfile : "(stdout)", strerror(errno));
	free(o.buf);
	return 1;
}
