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
        self._dead = False
        self.revive()

    def revive(self):
        """Listen (again, on the same port)."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('127.0.0.1', self.port or 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._listener = sock
        with self._lock:
            self._dead = False
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def kill(self):
        """Stop listening and cut every open connection: the endpoint is gone.

        The listener is shut down before it is closed: a close alone does not
        wake the thread blocked in ``accept()``, which then went on accepting
        (an abort sent after the "death" reached the server).  A connection
        accepted while this runs is closed by the accepting thread."""
        with self._lock:
            self._dead = True
            conns, self._conns = self._conns, []
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
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
            with self._lock:
                dead = self._dead or listener is not self._listener
            if dead:
                client.close()
                return
            try:
                upstream = socket.create_connection(('127.0.0.1', self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._dead:
                    client.close()
                    upstream.close()
                    return
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
