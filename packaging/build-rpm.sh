#!/bin/sh
# build-rpm.sh TARBALL OUTDIR - build the RPM from a `make dist` tarball
# with the spec it carries (`make rpm` does this), leaving the binary RPM
# in OUTDIR. Build dependencies are not checked (--nodeps) so that it
# also runs where rpm is not the package manager (Debian's rpm package);
# the tests are left to make check (--without check).
set -eu
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2
command -v rpmbuild > /dev/null 2>&1 || {
	echo "build-rpm.sh: rpmbuild not found (apt-get install rpm)" >&2
	exit 2
}
work=$(mktemp -d /tmp/tradedrop-rpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/SOURCES"
cp "$tarball" "$work/SOURCES/"
tar -C "$work" -xzf "$tarball" --wildcards '*/packaging/rpm/tradedrop.spec'
spec=$(ls "$work"/tradedrop-*/packaging/rpm/tradedrop.spec)
version=$(basename "$tarball" .tar.gz)
version=${version#tradedrop-}
specversion=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
if [ "$specversion" != "$version" ]; then
	echo "build-rpm.sh: packaging/rpm/tradedrop.spec is at $specversion," \
	    "configure.ac at $version" >&2
	exit 1
fi
rpmbuild -bb --nodeps --without check \
    --define "_topdir $work" \
    --define "_smp_mflags -j2" \
    --define 'debug_package %{nil}' \
    "$spec"
mkdir -p "$out"
rm -f "$out"/tradedrop-*.rpm
mv "$work"/RPMS/*/tradedrop-*.rpm "$out"/
ls -l "$out"
