#!/bin/sh
# build-deb.sh TARBALL OUTDIR - build the Debian package from a `make
# dist` tarball (`make deb` does this): unpack it, put packaging/debian/
# in place as debian/, run dpkg-buildpackage -us -uc -b, and leave the
# .deb, .buildinfo and .changes in OUTDIR, then run lintian on them.
# DEB_BUILD_OPTIONS defaults to "nocheck" (make check runs the tests).
set -eu
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2
for t in dpkg-buildpackage dh fakeroot; do
	command -v "$t" > /dev/null 2>&1 || {
		echo "build-deb.sh: $t not found (apt-get install dpkg-dev debhelper fakeroot)" >&2
		exit 2
	}
done
work=$(mktemp -d /tmp/tradedrop-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$tarball"
src=$(ls -d "$work"/tradedrop-*)
cp -a "$src/packaging/debian" "$src/debian"

# The package's version is the release's.
version=${src##*/tradedrop-}
debversion=$(cd "$src" && dpkg-parsechangelog -S Version)
if [ "$debversion" != "$version" ]; then
	echo "build-deb.sh: packaging/debian/changelog is at $debversion," \
	    "configure.ac at $version: add a changelog entry" >&2
	exit 1
fi

(cd "$src" && DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck} \
    dpkg-buildpackage -us -uc -b -j2)
mkdir -p "$out"
rm -f "$out"/tradedrop_* "$out"/tradedrop-dbgsym_*
mv "$work"/tradedrop_* "$work"/tradedrop-dbgsym_* "$out"/
ls -l "$out"
if command -v lintian > /dev/null 2>&1; then
	lintian --allow-root --info --display-info "$out"/tradedrop_*.changes
fi
