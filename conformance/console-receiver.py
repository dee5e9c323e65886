#!/usr/bin/env python3
"""A --console-socket peer for the conformance checks: listens on a unix
socket, runs the create command, receives the pty master over SCM_RIGHTS,
runs the start command, and prints everything read from the pty. When
create ends without sending a pty, it prints its errors and "start=none".

    console-receiver.py SOCKET -- CREATE-COMMAND... -- START-COMMAND...
"""
import os
import socket
import subprocess
import sys

path = sys.argv[1]
rest = sys.argv[3:]
cut = rest.index("--")
create, start = rest[:cut], rest[cut + 1:]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(0.1)
proc = subprocess.Popen(create, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
conn = None
for _ in range(300):
    try:
        conn, _ = srv.accept()
        break
    except socket.timeout:
        if proc.poll() is not None:
            break
fds = socket.recv_fds(conn, 1024, 1)[1] if conn is not None else []
if not fds:
    # create ended (or hung) without sending a console: say how, and stop.
    _, err = proc.communicate(timeout=30)
    sys.stderr.write(err.decode(errors="replace"))
    sys.stdout.write(f"create={proc.returncode} start=none\n")
    os.unlink(path)
    sys.exit(0)
_, err = proc.communicate(timeout=30)
sys.stderr.write(err.decode(errors="replace"))
started = subprocess.run(start, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
sys.stderr.write(started.stderr.decode(errors="replace"))
out = b""
while True:
    try:
        data = os.read(fds[0], 4096)
    except OSError:  # EIO once the last slave fd is closed
        break
    if not data:
        break
    out += data
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
sys.stdout.write(f"create={proc.returncode} start={started.returncode}\n")
os.unlink(path)
