"""The fault suite's proxy really dies: nothing reaches the target after kill()."""

import socket
import threading

from tests.reliability.proxy import Proxy


def _echo_server():
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(16)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b'alive')
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return server


def _reply(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2) as conn:
            return conn.recv(16)
    except OSError:
        return b''


def test_after_kill_no_new_connection_reaches_the_target_until_revive():
    server = _echo_server()
    proxy = Proxy(server.getsockname()[1])
    try:
        assert _reply(proxy.port) == b'alive'
        for _ in range(20):
            proxy.kill()
            assert _reply(proxy.port) == b''
            proxy.revive()
            assert _reply(proxy.port) == b'alive'
    finally:
        proxy.kill()
        server.close()
