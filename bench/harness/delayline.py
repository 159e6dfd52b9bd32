#!/usr/bin/env python3
"""A userspace delay line: two TUN devices, every IP packet read from one is written to the other DELAY_MS later.

For the RTT workload on kernels built without the netem qdisc (tc qdisc ... netem: "Specified qdisc kind is
unknown"). The bench creates the devices through this process in the root namespace, then moves one into each
of its two namespaces; packets keep their order (one FIFO per direction, constant delay), nothing is dropped on
purpose and no rate is imposed, as with `netem delay` alone.

    delayline.py DEV_A DEV_B DELAY_MS

Prints "ready" once both devices exist; runs until killed (the devices go with it).
"""
import collections
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65536
READ_BURST = 64


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    dev_a, dev_b, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    delay = delay_ms / 1000.0
    a, b = open_tun(dev_a), open_tun(dev_b)
    # Packets read from a key go out of its peer once due.
    peer = {a: b, b: a}
    queues = {a: collections.deque(), b: collections.deque()}
    poller = select.epoll()
    poller.register(a, select.EPOLLIN)
    poller.register(b, select.EPOLLIN)
    print("ready", flush=True)
    monotonic = time.monotonic
    while True:
        now = monotonic()
        due = None
        for src, q in queues.items():
            out = peer[src]
            while q and q[0][0] <= now:
                try:
                    os.write(out, q[0][1])
                except BlockingIOError:
                    break
                except OSError:
                    pass  # e.g. the device is down for a moment while being moved: the packet is lost
                q.popleft()
            if q and (due is None or q[0][0] < due):
                due = q[0][0]
        timeout = -1 if due is None else max(0.0, due - now)
        for fd, _ in poller.poll(timeout):
            q = queues[fd]
            t = monotonic() + delay
            for _ in range(READ_BURST):
                try:
                    q.append((t, os.read(fd, MAX_PACKET)))
                except BlockingIOError:
                    break


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
