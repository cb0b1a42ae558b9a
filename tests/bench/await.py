#!/usr/bin/python3
"""await.py [--ready PATH] PID grep TEXT FILE | ... PID count N DIR

Waits until FILE has TEXT (grep) or directory DIR has at least N entries
not hidden (count), or until process PID is gone: exits 0 when the wait
was met, 1 when PID went first.  It sleeps on inotify(7) on the directory
(woken by each change there; every 0.5 s to look at PID), so a timed wait
takes no CPU from the job it times.  The bench's shell loops before it
ran grep or ls and sleep 20 to 50 times a second: about 0.2 CPU seconds a
second, a tenth of a two-CPU machine, taken from tradedrop and its peer.
With --ready it creates PATH once it watches, so that its own start (a
third of a second of CPU here) is left out of the time measured."""
import ctypes
import os
import select
import sys

IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main():
    ready = None
    if len(sys.argv) > 2 and sys.argv[1] == "--ready":
        ready = sys.argv[2]
        del sys.argv[1:3]
    if len(sys.argv) != 5:
        sys.exit("usage: await.py PID grep TEXT FILE | PID count N DIR")
    pid, kind = int(sys.argv[1]), sys.argv[2]
    if kind not in ("grep", "count"):
        sys.exit("usage: await.py PID grep TEXT FILE | PID count N DIR")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
    if fd < 0:
        sys.exit("await.py: inotify_init1: %s" % os.strerror(ctypes.get_errno()))
    if kind == "grep":
        text, path = sys.argv[3].encode(), sys.argv[4]
        watch = os.path.dirname(path) or "."
    else:
        n, watch = int(sys.argv[3]), sys.argv[4]
    if libc.inotify_add_watch(fd, watch.encode(), IN_MODIFY | IN_CLOSE_WRITE |
                              IN_MOVED_TO | IN_CREATE) < 0:
        sys.exit("await.py: inotify_add_watch %s: %s" %
                 (watch, os.strerror(ctypes.get_errno())))
    if ready is not None:
        open(ready, "wb").close()
    off, tail = 0, b""
    while True:
        # looked at after the watch is set: nothing is missed
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
        else:
            try:
                # as ls(1) counts: not the hidden names
                if sum(not e.startswith(".") for e in os.listdir(watch)) >= n:
                    return 0
            except FileNotFoundError:
                pass
        if not alive(pid):
            return 1
        if select.select([fd], [], [], 0.5)[0]:
            try:
                while os.read(fd, 65536):
                    pass
            except BlockingIOError:
                pass


if __name__ == "__main__":
    sys.exit(main())
