#!/bin/sh
# cloexec.sh - every stream tradedrop opens with fopen(3) is close-on-exec
# (an "e" in its mode), so no descriptor of state.db's directory, a
# config or a dead-letter file leaks into a child (the sandboxed parser
# of the daemon, a hook). A source check over agent/ and common/: one
# test per file that calls fopen.
. "$srcdir/tests/lib/common.sh"

for f in "$srcdir"/agent/*.c "$srcdir"/common/*.c; do
	rel=${f#"$srcdir"/}
	grep -q 'fopen(' "$f" || continue
	bad=$(grep -n 'fopen(' "$f" | while IFS= read -r line; do
		mode=$(printf '%s\n' "$line" |
		    sed -n 's/.*fopen([^,]*, *"\([^"]*\)").*/\1/p')
		case "$mode" in
		*e*) ;;
		*) printf '%s\n' "$line" ;;
		esac
	done)
	name="$rel: every fopen mode has \"e\" (close-on-exec)"
	if [ -z "$bad" ]; then
		t_ok 0 "$name"
	else
		t_ok 1 "$name"
		printf '%s\n' "$bad" | sed 's/^/#   /'
	fi
done
t_done
