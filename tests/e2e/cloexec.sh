#!/bin/sh
# cloexec.sh - every file tradedrop opens is close-on-exec, so no
# descriptor of state.db's directory, a config or a dead-letter file leaks
# into a child (the sandboxed parser of the daemon, a hook). A source
# check over agent/ and common/: every fopen(3) mode has "e", and every
# open(2)/openat(2) passes O_CLOEXEC.
. "$srcdir/tests/lib/common.sh"

nf=0 nopen=0 badf= bado=
for f in "$srcdir"/agent/*.c "$srcdir"/common/*.c; do
	rel=${f#"$srcdir"/}
	nf=$((nf + 1))
	# fopen modes without an "e"
	b=$(grep -n 'fopen(' "$f" | grep -v 'fopen([^,]*, *"[a-z+]*e[a-z+]*")')
	[ -z "$b" ] || badf="$badf$(printf '%s\n' "$b" | sed "s|^|$rel:|")
"
	# open/openat calls: the flags run to the first ')' on the same or
	# the next two lines (or were put in a variable on the line before)
	o=$(awk -v rel="$rel" '
	    /flags = .*O_CLOEXEC/ { cloflags = 1 }
	    /(^|[^a-z_>.])(open|openat)\(/ && !/^[ \t]*\*/ && !/O_CLOEXEC/ &&
	        !/^[a-z_]+\(/ && prev !~ /O_CLOEXEC/ &&
	        !(cloflags && /open(at)?\([^,]*, *flags/) { start = NR; text = $0; prev = $0; next }
	    { prev = $0 }
	    start && NR <= start + 2 { text = text $0
	        if (text ~ /O_CLOEXEC/) { start = 0; next }
	        if (NR == start + 2 || $0 ~ /\);/) { print rel ":" start ": " text; start = 0 } }
	    ' "$f")
	[ -z "$o" ] || bado="$bado$o
"
	nopen=$((nopen + $(grep -cE '(^|[^a-z_>.])(open|openat)\(' "$f")))
done
t_ok "$([ "$nf" -gt 20 ] && [ "$nopen" -gt 20 ]; echo $?)" \
	"the sources were read ($nf files, $nopen open calls)"
t_is "$badf" "" "every fopen mode has \"e\" (close-on-exec)"
t_is "$bado" "" "every open and openat passes O_CLOEXEC"
t_done
