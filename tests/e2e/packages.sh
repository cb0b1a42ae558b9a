#!/bin/sh
# packages.sh - the Debian package and the RPM build from `make dist`
# (make deb, make rpm) and hold what an operator installs: the binary in
# /usr/sbin, the template unit, the sysusers.d file (run by the package's
# scripts, no unit instance enabled), /etc/tradedrop/tradedrop.conf as a
# configuration file, the man pages and the examples; lintian has no
# error or warning. Each part is skipped, saying so, without its tools
# (./bootstrap installs them).
. "$srcdir/tests/lib/common.sh"
[ -n "${top_builddir:-}" ] || t_skip_all "run from make check"
have_deb=yes have_rpm=yes
for t in dpkg-buildpackage dh fakeroot lintian; do
	command -v $t > /dev/null 2>&1 || have_deb="no ($t not installed)"
done
command -v rpmbuild > /dev/null 2>&1 || have_rpm="no (rpmbuild not installed)"
[ "$have_deb" = yes ] || [ "$have_rpm" = yes ] ||
    t_skip_all "deb: $have_deb; rpm: $have_rpm"
t_tmpdir

# One release tarball for both, made in a copy of the build tree's
# dist (make dist writes into the build directory).
${MAKE:-make} -s -C "$top_builddir" dist-gzip > "$T_TMP/dist.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || tail -20 "$T_TMP/dist.log" | sed 's/^/#   /'
t_is "$rc" 0 "make dist"
tarball=$(ls "$top_builddir"/tradedrop-*.tar.gz | head -1)
mv "$tarball" "$T_TMP/"
tarball="$T_TMP/${tarball##*/}"

# build deb|rpm NAME: packaging/build-KIND.sh on the tarball into
# $T_TMP/KIND, its log shown when it fails
build() {
	sh "$srcdir/packaging/build-$1.sh" "$tarball" "$T_TMP/$1" \
	    > "$T_TMP/$1.log" 2>&1
	_rc=$?
	[ "$_rc" -eq 0 ] || tail -30 "$T_TMP/$1.log" | sed 's/^/#   /'
	t_is "$_rc" 0 "$2"
}

# --------------------------------------------------------------- .deb
if [ "$have_deb" = yes ]; then
	build deb "dpkg-buildpackage -us -uc -b from the tarball"
	deb=$(ls "$T_TMP"/deb/tradedrop_*.deb 2>/dev/null | head -1)
	dpkg --contents "$deb" | awk '{ print $NF }' > "$T_TMP/contents"
	for f in ./usr/sbin/tradedrop ./lib/systemd/system/tradedrop@.service \
	    ./usr/lib/sysusers.d/tradedrop.conf ./etc/tradedrop/tradedrop.conf \
	    ./usr/share/man/man8/tradedrop.8.gz \
	    ./usr/share/man/man5/tradedrop.conf.5.gz \
	    ./usr/share/man/man7/tradedrop-protocol.7.gz \
	    ./usr/share/doc/tradedrop/copyright \
	    ./usr/share/doc/tradedrop/examples/weekly-store-upc.conf \
	    ./usr/share/doc/tradedrop/examples/daily-transactions.conf \
	    ./usr/share/doc/tradedrop/examples/x12-852.conf; do
		grep -qx "$f" "$T_TMP/contents"
		t_ok $? "the .deb has $f"
	done
	mkdir "$T_TMP/ctl"
	dpkg-deb -e "$deb" "$T_TMP/ctl"
	t_is "$(cat "$T_TMP/ctl/conffiles")" /etc/tradedrop/tradedrop.conf \
	    "/etc/tradedrop/tradedrop.conf is a conffile"
	t_grep "$T_TMP/ctl/postinst" "systemd-sysusers" \
	    "postinst creates the tradedrop user"
	! grep -q 'enable\|start' "$T_TMP/ctl/postinst"
	t_ok $? "postinst enables and starts no unit"
	lintian --allow-root --fail-on error,warning -I --pedantic \
	    "$T_TMP"/deb/tradedrop_*.changes > "$T_TMP/lintian" 2>&1
	rc=$?
	sed 's/^/#   lintian: /' "$T_TMP/lintian"
	t_is "$rc" 0 "lintian: no error or warning"
	# what it installs runs: the example on its sample drop
	root="$T_TMP/debroot"
	dpkg -x "$deb" "$root"
	t_grep "$root/lib/systemd/system/tradedrop@.service" \
	    "ExecStart=/usr/sbin/tradedrop run -c /etc/tradedrop/%i.conf" \
	    "the packaged unit runs /usr/sbin/tradedrop on /etc/tradedrop/%i.conf"
	"$root/usr/sbin/tradedrop" --help > "$T_TMP/help" 2>&1
	t_grep "$T_TMP/help" "The default configuration file is /etc/tradedrop/tradedrop.conf." \
	    "the packaged binary's default is /etc/tradedrop/tradedrop.conf"
	ex="$root/usr/share/doc/tradedrop/examples"
	"$root/usr/sbin/tradedrop" try -c "$ex/weekly-store-upc.conf" \
	    "$ex/weekly-store-upc.csv" > "$T_TMP/try.out" 2> "$T_TMP/try.err"
	t_ok $? "the packaged binary tries the packaged example"
else
	t_ok 0 "the .deb # SKIP $have_deb"
fi

# ---------------------------------------------------------------- RPM
if [ "$have_rpm" = yes ]; then
	build rpm "rpmbuild from the tarball's spec"
	rpm=$(ls "$T_TMP"/rpm/tradedrop-*.rpm 2>/dev/null | head -1)
	rpm -qlp "$rpm" > "$T_TMP/rpmlist" 2>/dev/null
	# (man pages are compressed where rpm's brp-compress is installed)
	for f in /usr/sbin/tradedrop /usr/lib/systemd/system/tradedrop@.service \
	    /usr/lib/sysusers.d/tradedrop.conf /etc/tradedrop/tradedrop.conf \
	    /usr/share/man/man8/tradedrop.8 /usr/share/man/man5/tradedrop.conf.5 \
	    /usr/share/doc/tradedrop/examples/weekly-store-upc.conf; do
		grep -Eqx "$f(\.gz)?" "$T_TMP/rpmlist"
		t_ok $? "the RPM has $f"
	done
	t_is "$(rpm -qcp "$rpm" 2>/dev/null)" /etc/tradedrop/tradedrop.conf \
	    "/etc/tradedrop/tradedrop.conf is %config"
	rpm -qp --scripts "$rpm" > "$T_TMP/scripts" 2>/dev/null
	t_grep "$T_TMP/scripts" "systemd-sysusers" \
	    "%post creates the tradedrop user"
else
	t_ok 0 "the RPM # SKIP $have_rpm"
fi
t_done
