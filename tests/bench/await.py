#!/usr/bin/python3
"""await.py [--ready PATH] PID grep TEXT FILE | ... PID count N DIR

Waits until FILE has TEXT (grep) or directory DIR has at least N entries
not hidden (count), or until process PID is gone: exits 0 when the wait
was met, 1 when PID went first, 2 on an error.  It sleeps on inotify(7)
on the directory (woken by each change there; every 0.5 s to look at
PID), so a timed wait takes no CPU from the job it times: grep reads only
what was appended since, count lists DIR once and then counts the names
the events bring (again on an overflow of the queue).  The bench's shell
loops before it ran grep or ls and sleep 20 to 50 times a second: about
0.2 CPU seconds a second, a tenth of a two-CPU machine, taken from
tradedrop and its peer.  With --ready it creates PATH once it watches,
so that its own start (a third of a second of CPU here) is left out of
the time measured."""
import ctypes
import os
import select
import struct
import sys

IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO = 0x2, 0x8, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_Q_OVERFLOW = 0x100, 0x200, 0x4000
EVENT = struct.Struct("iIII")   # wd, mask, cookie, len; then the name


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def listed(d):
    """The names of d as ls(1) shows them: not the hidden ones."""
    try:
        return set(e for e in os.listdir(d) if not e.startswith("."))
    except FileNotFoundError:
        return set()


def main():
    ready = None
    if len(sys.argv) > 2 and sys.argv[1] == "--ready":
        ready = sys.argv[2]
        del sys.argv[1:3]
    if len(sys.argv) != 5 or sys.argv[2] not in ("grep", "count"):
        print("usage: await.py [--ready PATH] PID grep TEXT FILE | "
              "... PID count N DIR", file=sys.stderr)
        return 2
    pid, kind = int(sys.argv[1]), sys.argv[2]
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
    if fd < 0:
        print("await.py: inotify_init1: %s" %
              os.strerror(ctypes.get_errno()), file=sys.stderr)
        return 2
    if kind == "grep":
        text, path = sys.argv[3].encode(), sys.argv[4]
        watch = os.path.dirname(path) or "."
    else:
        n, watch = int(sys.argv[3]), sys.argv[4]
    mask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO if kind == "grep" else \
        IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM
    if libc.inotify_add_watch(fd, os.fsencode(watch), mask) < 0:
        print("await.py: inotify_add_watch %s: %s" %
              (watch, os.strerror(ctypes.get_errno())), file=sys.stderr)
        return 2
    if ready is not None:
        open(ready, "wb").close()
    # looked at after the watch is set: nothing is missed
    off, tail = 0, b""
    names = listed(watch) if kind == "count" else None
    while True:
        if kind == "grep":
            try:
                with open(path, "rb") as f:
                    f.seek(off)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            if data:
                off += len(data)
                buf = tail + data
                if text in buf:
                    return 0
                tail = buf[-len(text):]
        elif len(names) >= n:
            return 0
        if not alive(pid):
            return 1
        if not select.select([fd], [], [], 0.5)[0]:
            continue
        events = b""
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                events += chunk
        except BlockingIOError:
            pass
        if kind != "count":
            continue
        at = 0
        while at + EVENT.size <= len(events):
            _, mask, _, ln = EVENT.unpack_from(events, at)
            name = events[at + EVENT.size:at + EVENT.size + ln]
            name = os.fsdecode(name.rstrip(b"\0"))
            at += EVENT.size + ln
            if mask & IN_Q_OVERFLOW:
                names = listed(watch)
            elif not name or name.startswith("."):
                continue
            elif mask & (IN_CREATE | IN_MOVED_TO):
                names.add(name)
            elif mask & (IN_DELETE | IN_MOVED_FROM):
                names.discard(name)


if __name__ == "__main__":
    try:
        rc = main()
    except Exception as e:  # 1 is "PID went first": any other failure is 2
        print("await.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        rc = 2
    sys.exit(rc)
