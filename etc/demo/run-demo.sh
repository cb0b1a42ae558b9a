#!/bin/sh
# run-demo.sh - run the demo integration on the bundled sample drops.
# Called by `./bootstrap demo`; everything goes under /tmp/tradedrop-demo.
set -u
top=${1:-.}
td="$top/agent/tradedrop"
conf="$top/etc/demo/demo.conf"
base=/tmp/tradedrop-demo

rm -rf "$base"
mkdir -p "$base/state/landing"
cp "$top"/etc/demo/drops/* "$base/state/landing/"

echo "== tradedrop check -c etc/demo/demo.conf"
"$td" check -c "$conf" || exit 2
if ! "$td" --help | grep -q '^  once'; then
	echo "(once is not built yet: the configuration check is the demo)"
	exit 0
fi
echo "== tradedrop once -c etc/demo/demo.conf (sample drops in $base/state/landing)"
"$td" once -c "$conf" 2> "$base/once.log"
rc=$?
echo "once exited $rc (0 all delivered, 1 something rejected, 3 undelivered)"
echo
echo "== tradedrop status"
"$td" status -c "$conf"
echo
echo "== delivered (file://$base/out)"
for m in "$base"/out/*/manifest.json; do
	[ -f "$m" ] || continue
	d=$(dirname "$m")
	n=$(ls "$d"/batch-*.ndjson.gz 2>/dev/null | wc -l)
	python3 - "$m" "$n" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
c = m["counts"]; t = m["control_totals"]
print(f'  {m["file"]["name"]}: {c["delivered"]} records in {sys.argv[2]} batches, '
      f'{c["dlq"]} dead-lettered; units {t["quantity"]}, sales {t["amount"]}')
PY
done
echo
echo "== dead-lettered records ($base/state/dlq)"
for f in "$base"/state/dlq/*.ndjson; do
	[ -f "$f" ] || continue
	python3 - "$f" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(f'  {r["source"]["file"]}:{r["source"]["line"]}: {r["code"]}: {r["message"]}')
PY
done
echo
echo "== quarantined files ($base/state/quarantine)"
for r in "$base"/state/quarantine/*/reason.json; do
	[ -f "$r" ] || continue
	python3 - "$r" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f'  {r["file"]}: tier {r["tier"]} {r["code"]}: {r["message"]}')
PY
done
echo
echo "A sample record:"
f=$(ls "$base"/out/*/batch-000001.ndjson.gz 2>/dev/null | head -1)
[ -n "$f" ] && gzip -dc "$f" | head -1
echo
echo "Log of the run: $base/once.log"
exit 0
