#!/bin/sh
# install.sh - `make install DESTDIR=...` puts the binary, the man pages,
# the configuration, the examples and the systemd files where the
# configured directories say, and the default configuration file agrees
# everywhere: --help, tradedrop(8) FILES, the installed file, the unit.
. "$srcdir/tests/lib/common.sh"
[ -n "${TD_SBINDIR:-}" ] || t_skip_all "run from make check (needs the configured directories)"
t_tmpdir
root="$T_TMP/root"
${MAKE:-make} -s -C "$top_builddir" install DESTDIR="$root" \
    > "$T_TMP/install.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T_TMP/install.log" | tail -20
t_is "$rc" 0 "make install DESTDIR"

# in_root PATH name: PATH exists under DESTDIR
in_root() {
	[ -f "$root$1" ]
	t_ok $? "$2: $1"
}
in_root "$TD_SBINDIR/tradedrop" "the binary in sbindir"
[ -x "$root$TD_SBINDIR/tradedrop" ]
t_ok $? "the binary is executable"
in_root "$TD_MANDIR/man8/tradedrop.8" "tradedrop(8)"
in_root "$TD_MANDIR/man5/tradedrop.conf.5" "tradedrop.conf(5)"
in_root "$TD_MANDIR/man7/tradedrop-protocol.7" "tradedrop-protocol(7)"
conf="$TD_SYSCONFDIR/tradedrop/tradedrop.conf"
in_root "$conf" "the default configuration"
for e in README weekly-store-upc.conf weekly-store-upc.csv \
    daily-transactions.conf daily-transactions.csv \
    daily-transactions-items.csv daily-transactions-promos.csv \
    x12-852.conf x12-852.edi x12-867.conf x12-867.edi; do
	in_root "$TD_EXAMPLESDIR/$e" "example"
done
unit="$TD_UNITDIR/tradedrop@.service"
in_root "$unit" "the systemd template unit"
in_root "$TD_SYSUSERSDIR/tradedrop.conf" "the sysusers.d file"
t_grep "$root$unit" \
    "ExecStart=$TD_SBINDIR/tradedrop run -c $TD_SYSCONFDIR/tradedrop/%i.conf" \
    "the unit runs the installed binary on $TD_SYSCONFDIR/tradedrop/%i.conf"
t_grep "$root$TD_SYSUSERSDIR/tradedrop.conf" "u tradedrop " \
    "sysusers.d creates the tradedrop user"

# The default configuration file: --help names the installed one.
"$root$TD_SBINDIR/tradedrop" --help > "$T_TMP/help"
t_grep "$T_TMP/help" "The default configuration file is $conf." \
    "--help names $conf"
# tradedrop(8) FILES names /etc/tradedrop/tradedrop.conf, which a build
# with the default sysconfdir (/etc whatever the prefix) installs.
files_conf=$(sed -n '/^\.Sh FILES/,/^\.Sh/s/^\.It Pa \(.*tradedrop\.conf\)$/\1/p' \
    "$srcdir/man/tradedrop.8" | head -1)
t_is "$files_conf" /etc/tradedrop/tradedrop.conf \
    "tradedrop(8) FILES names /etc/tradedrop/tradedrop.conf"
# Only a build configured with its own --sysconfdir, or a prefix other
# than /usr/local and /usr (as make distcheck's), may differ from FILES.
args=$("$top_builddir/config.status" --config 2>/dev/null)
own=no
case "$args" in *--sysconfdir=*) own=yes ;; esac
prefix=$(echo "$args" | sed -n "s/.*--prefix=\([^' ]*\).*/\1/p")
case "$prefix" in ""|/usr|/usr/local) ;; *) own=yes ;; esac
if [ "$own" = yes ]; then
	t_ok 0 "--help and FILES agree # SKIP configured with sysconfdir $TD_SYSCONFDIR"
else
	t_is "$conf" "$files_conf" "--help, FILES and the installed file agree"
fi
# ... and the installed examples keep their state where the unit does.
t_is "$(grep -h '^state_dir' "$root$TD_EXAMPLESDIR"/*.conf | grep -vc '^state_dir = /var/lib/tradedrop/[a-z0-9_-]*$')" 0 \
    "every example's state_dir is the unit's /var/lib/tradedrop/NAME"

${MAKE:-make} -s -C "$top_builddir" uninstall DESTDIR="$root" \
    > "$T_TMP/uninstall.log" 2>&1
t_ok $? "make uninstall DESTDIR"
left=$(find "$root" -type f | sed "s|^$root||")
[ -z "$left" ] || echo "$left" | sed 's/^/#   left: /'
t_is "$left" "" "make uninstall removes every installed file"
t_done
