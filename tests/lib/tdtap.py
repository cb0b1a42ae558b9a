# tdtap.py - TAP for the Python parts of the shell tests: ok(), done().
import sys

n = 0
failed = 0


def ok(cond, name, detail=None):
    """One test point; detail (any text) is shown when it fails."""
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
    if not cond:
        failed += 1
        if detail is not None:
            for l in str(detail).splitlines()[:30]:
                print("#   " + l)
    return cond


def done():
    print("1..%d" % n)
    sys.exit(1 if failed else 0)
