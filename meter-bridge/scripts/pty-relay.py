#!/usr/bin/env python3
"""A pseudo-terminal pair for tests, like `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`.

Usage: pty-relay.py LINK_A LINK_B
Creates two raw pseudo-terminals, symlinks their device paths to LINK_A and LINK_B, prints
"ready" and relays bytes between them until SIGTERM or SIGINT. Standard library only.
"""
import os
import select
import signal
import sys
import tty


def open_raw_pty():
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pty-relay.py LINK_A LINK_B")
    links = sys.argv[1:]
    ends = [open_raw_pty() for _ in links]
    for (_, slave), link in zip(ends, links):
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(slave), link)

    def stop(*_):
        for link in links:
            if os.path.lexists(link):
                os.unlink(link)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)

    masters = [master for master, _ in ends]
    peer = {masters[0]: masters[1], masters[1]: masters[0]}
    while True:
        readable, _, _ = select.select(masters, [], [])
        for fd in readable:
            try:
                data = os.read(fd, 4096)
            except OSError:
                continue  # no one has the other end open yet
            view = memoryview(data)
            while view:
                written = os.write(peer[fd], view)
                view = view[written:]


if __name__ == "__main__":
    main()
