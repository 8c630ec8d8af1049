"""The plugin's private channel to its host and its tie to the host's life.

The host (go-plugin with AutoMTLS) passes its client certificate in
PLUGIN_CLIENT_CERT and a private folder in PLUGIN_UNIX_SOCKET_DIR. The
plugin answers as go-plugin's own Go servers do: it makes a fresh ECDSA
P-521 key and a self-signed certificate for "localhost" (server and client
auth), serves TLS that requires a client certificate signed by the host's,
on a Unix socket in that folder (or in a fresh 0700 folder when none is
given), and sends its certificate back in the handshake line as unpadded
base64 DER. Nothing listens on TCP.

The plugin dies with its host: the kernel sends it SIGTERM when the parent
goes (PR_SET_PDEATHSIG), a thread watches the parent pid as well, and the
socket (with a folder the plugin made) is removed on every exit path.
"""

import base64
import ctypes
import datetime
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import grpc

# go-plugin's environment variables (client.go, server.go, constants.go).
ENV_CLIENT_CERT = "PLUGIN_CLIENT_CERT"
ENV_SOCKET_DIR = "PLUGIN_UNIX_SOCKET_DIR"

_PR_SET_PDEATHSIG = 1
# A Unix socket path holds at most 107 bytes on Linux.
_MAX_SOCKET_PATH = 107


class ChannelError(Exception):
    """The channel cannot be set up; the message says why and what to do."""


def make_cert():
    """Returns (certificate PEM, key PEM, certificate DER) for a fresh
    self-signed certificate shaped as go-plugin's generateCert makes it."""
    key = ec.generate_private_key(ec.SECP521R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") or 1)
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(hours=262980))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=True, key_cert_sign=True,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA512())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert_pem, key_pem, cert.public_bytes(serialization.Encoding.DER)


def _client_cert(env):
    pem = env.get(ENV_CLIENT_CERT, "")
    if not pem:
        raise ChannelError("the host sent no client certificate (%s): gozoo starts this plugin with "
                           "automatic mTLS; start it through gozoo" % ENV_CLIENT_CERT)
    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError as e:
        raise ChannelError("the host's client certificate (%s) does not parse: %s" % (ENV_CLIENT_CERT, e))
    return pem.encode()


class Channel:
    """The listening socket and its credentials. Close removes the socket
    (and the folder when the plugin made it); it is idempotent and safe
    from any thread or a signal handler."""

    def __init__(self, env=None, name="python"):
        """Makes the credentials and picks the socket path for the plugin
        called name (the socket is NAME-PID-RANDOM.sock); env defaults to
        os.environ. Raises ChannelError when the host's certificate or
        folder is missing or unsafe."""
        env = os.environ if env is None else env
        self.client_pem = _client_cert(env)
        cert_pem, key_pem, der = make_cert()
        self.credentials = grpc.ssl_server_credentials(
            [(key_pem, cert_pem)], root_certificates=self.client_pem, require_client_auth=True)
        self.cert_b64 = base64.b64encode(der).decode().rstrip("=")  # base64.RawStdEncoding
        d = env.get(ENV_SOCKET_DIR, "")
        self.own_dir = not d
        if self.own_dir:
            d = tempfile.mkdtemp(prefix="gozoo-%s-" % name)  # mode 0700
        else:
            d = os.path.abspath(d)
            st = os.stat(d)
            if st.st_uid != os.getuid() or st.st_mode & 0o077:
                # A folder others can enter (or that another user owns)
                # would let them reach the socket.
                raise ChannelError("socket folder %s (%s) is not private: it must belong to uid %d with mode 0700" % (
                    d, ENV_SOCKET_DIR, os.getuid()))
        self.dir = d
        self.socket = os.path.join(d, "%s-%d-%s.sock" % (name, os.getpid(), secrets.token_hex(4)))
        if len(self.socket) > _MAX_SOCKET_PATH:
            self.close()
            raise ChannelError("socket path %s is longer than %d bytes: set TMPDIR to a shorter folder" % (self.socket, _MAX_SOCKET_PATH))
        self._lock = threading.Lock()
        self._closed = False
        at_exit(self.close)

    def address(self):
        """The grpc server address to bind."""
        return "unix:" + self.socket

    def handshake(self, app_protocol):
        """go-plugin's handshake line: core|app|network|address|protocol|cert."""
        return "1|%d|unix|%s|grpc|%s\n" % (app_protocol, self.socket, self.cert_b64)

    def close(self):
        lock = getattr(self, "_lock", None)
        if lock is not None and not lock.acquire(blocking=False):
            return  # another thread (or an interrupted one) is closing
        try:
            if getattr(self, "_closed", False):
                return
            self._closed = True
            try:
                os.remove(self.socket)
            except OSError:
                pass
            if self.own_dir:
                shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            if lock is not None:
                lock.release()


_cleanups = []


def at_exit(fn):
    """Registers fn to run when the process ends through die_with_parent's
    signal or watch (atexit handlers do not run on os._exit)."""
    _cleanups.append(fn)


def run_cleanups():
    """Runs the registered cleanups, newest first, ignoring their errors."""
    for fn in reversed(list(_cleanups)):
        try:
            fn()
        except Exception:
            pass


_armed = []


def die_with_parent(interval=0.5):
    """Ends the process when its parent (the host) goes, whatever ends the
    parent: the kernel's parent-death signal (SIGTERM), and a daemon thread
    that watches the parent pid. The at_exit cleanups run first (removing
    the socket). SIGTERM from anyone else ends the process the same way.
    Calls after the first do nothing."""
    if _armed:
        return
    _armed.append(True)
    ppid = os.getppid()

    def end(*_):
        try:
            run_cleanups()
        finally:
            os._exit(0)

    signal.signal(signal.SIGTERM, end)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the watch thread alone

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != ppid:
                end()

    threading.Thread(target=watch, name="gozoo-parent-watch", daemon=True).start()
