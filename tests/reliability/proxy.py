"""A loopback TCP proxy a test can kill and revive: an S3 endpoint that dies
mid-upload and comes back."""

import socket
import threading


class Proxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target``."""

    def __init__(self, target):
        self.target = target
        self.port = None
        self._conns = []
        self._lock = threading.Lock()
        self._listener = None
        self.revive()

    def revive(self):
        """Listen (again, on the same port)."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('127.0.0.1', self.port or 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def kill(self):
        """Stop listening and cut every open connection: the endpoint is gone."""
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            for s in conn:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(('127.0.0.1', self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
