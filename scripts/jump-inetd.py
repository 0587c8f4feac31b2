#!/usr/bin/env python3
"""A bastion for the jump-host tests: listens on ADDR:PORT in the deployer's network namespace and
serves each connection with `sshd -i` started *inside* the hidden namespace, so the bastion reaches
the targets there while the deployer cannot (inetd style: one sshd per connection).

    jump-inetd.py ADDR PORT NETNS_PID SSHD CONFIG LOG
"""
import os
import signal
import socket
import subprocess
import sys

addr, port, nspid, sshd, config, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((addr, port))
listener.listen(128)
logfile = open(log, "ab")
while True:
    conn, _ = listener.accept()
    subprocess.Popen(["nsenter", f"--net=/proc/{nspid}/ns/net", sshd, "-i", "-e", "-f", config],
                     stdin=conn, stdout=conn, stderr=logfile, close_fds=True, start_new_session=True)
    conn.close()
