#!/bin/sh
# man-lint.sh - the man pages pass mandoc -Tlint, tradedrop.conf(5)
# documents every key of common/conf-table.h, and etc/tradedrop.conf calls
# unsupported only the keys the table refuses.
. "$srcdir/tests/lib/common.sh"
if [ -z "${MANDOC:-}" ] || [ ! -x "$MANDOC" ]; then
	MANDOC=$(command -v mandoc || true)
fi
[ -n "$MANDOC" ] || t_skip_all "mandoc not installed"

for p in tradedrop.8 tradedrop.conf.5 tradedrop-protocol.7; do
	f="$srcdir/man/$p"
	if [ ! -f "$f" ]; then
		t_ok 1 "$p exists"
		continue
	fi
	out=$("$MANDOC" -Tlint -Wwarning "$f" 2>&1)
	rc=$?
	[ -z "$out" ] || echo "$out" | sed 's/^/#   /'
	t_is "$rc" 0 "mandoc -Tlint $p"
done

# Every key of the table is an `.It Cm key` entry in tradedrop.conf.5.
keys=$(sed -n 's/^X(\([a-z_]*\), \([a-z0-9_]*\),.*/\1.\2/p' \
	"$srcdir/common/conf-table.h")
n=0 missing=0
for sk in $keys; do
	k=${sk#*.}
	n=$((n + 1))
	if ! grep -q "^\.It Cm $k\( \|$\)" "$srcdir/man/tradedrop.conf.5"; then
		echo "# tradedrop.conf.5 lacks $sk"
		missing=$((missing + 1))
	fi
	if ! grep -q "^#\{0,1\}$k = " "$srcdir/etc/tradedrop.conf"; then
		echo "# etc/tradedrop.conf lacks $sk"
		missing=$((missing + 1))
	fi
done
t_ok "$([ "$n" -gt 60 ]; echo $?)" "the key table was read ($n keys)"

# etc/tradedrop.conf says "not supported by this version" of the keys
# the table marks CF_UNBUILT (refused when set), and of no other: a key
# acted on and marked so there is one an operator would not set.
unbuilt=$(sed -n 's/^X(\([a-z_]*\), \([a-z0-9_]*\),.*CF_UNBUILT.*/\2/p' \
	"$srcdir/common/conf-table.h" | sort | tr '\n' ' ')
marked=$(awk '/not supported by this version/ { m = 1; next }
	m && /^#[a-z_0-9]* = / { sub(/^#/, ""); sub(/ = .*/, ""); print }
	{ m = 0 }' "$srcdir/etc/tradedrop.conf" | sort | tr '\n' ' ')
t_is "$marked" "$unbuilt" "etc/tradedrop.conf marks unsupported exactly the CF_UNBUILT keys"
t_is "$missing" 0 "every key is in tradedrop.conf.5 and etc/tradedrop.conf"
# Every section has its subsection in the rendered page.
rendered=$(mktemp /tmp/td-man.XXXXXX)
"$MANDOC" -Tascii "$srcdir/man/tradedrop.conf.5" | sed 's/.\x08//g' > "$rendered"
for s in integration 'source "NAME"' watch verify unpack decode parse map \
    calendar output metrics; do
	grep -qF "[$s]" "$rendered"
	t_ok $? "tradedrop.conf.5 has a [$s] section"
done
rm -f "$rendered"
t_done
