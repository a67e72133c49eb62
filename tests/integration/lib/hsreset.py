#!/usr/bin/env python3
"""hsreset.py - peers that give up in the middle of a handshake.

usage: hsreset.py tls HOST PORT N   N TCP connections that each send a TLS
                                    ClientHello and reset (RST) at once
       hsreset.py tls-fin HOST PORT N   the same, closed normally (FIN)
       hsreset.py ipc PATH N        N connections to a Unix socket, closed
                                    at once

libnng 1.5.2 stops a listener for good when such a peer makes its handshake
write fail (common/io/netguard.h); the daemons must keep serving anyway.
"""
import socket
import ssl
import struct
import sys


def tls_resets(host, port, n, rst=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(n):
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        s = socket.create_connection((host, port))
        s.sendall(outgoing.read())  # the ClientHello
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def ipc_closes(path, n):
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError:
            pass
        s.close()


def main(argv):
    if len(argv) == 5 and argv[1] in ("tls", "tls-fin"):
        tls_resets(argv[2], int(argv[3]), int(argv[4]), rst=argv[1] == "tls")
    elif len(argv) == 4 and argv[1] == "ipc":
        ipc_closes(argv[2], int(argv[3]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
