/*
 * fuzz-csv.c - libFuzzer harness: the CSV parser with small limits, fed
 * in two chunks split at a data-derived point. Nothing may crash, the
 * limits must hold for every record, and every field points somewhere,
 * even an empty one (a NULL pointer cannot be given to memcpy or memcmp,
 * even for 0 bytes).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
on_rec(void *arg, const struct csv_rec *r)
{
	size_t i, tot = 0;

	if (r->err == 0) {
		if (r->nf > 16)
			abort();
		for (i = 0; i < r->nf; i++) {
			if (r->f[i].len > 64 || r->f[i].p == NULL)
				abort();
			tot += r->f[i].len;
		}
	}
	if (r->rawlen > 256 || tot > 256)
		abort();
	(*(size_t *)arg)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct csv_opts o = { 0, 64, 256, 16 };
	struct csv *p;
	size_t split, nrec = 0;

	if (n > 0 && data[0] == ';')
		o.delim = ';';
	if ((p = csv_new(&o)) == NULL)
		abort();
	split = n > 0 ? data[n / 2] % (n + 1) : 0;
	csv_feed(p, data, split, on_rec, &nrec);
	csv_feed(p, data + split, n - split, on_rec, &nrec);
	csv_finish(p, on_rec, &nrec);
	csv_free(p);
	return 0;
}
