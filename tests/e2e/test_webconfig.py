"""tcpkawatch export --web-config: TLS and basic auth in exporter-toolkit's
format. A real Prometheus scrapes it over TLS with basic auth, curl gets
401 without or with wrong credentials; bcrypt checks never hold up a
scrape; bad configs end at once with one line and exit code 2. The
certificates are made by openssl, the bcrypt hashes by libcrypt."""
import base64
import ctypes
import os
import shutil
import socket
import subprocess
import tempfile
import time

from ka import Netns, Prometheus, TCPKAWATCH, check, same_on_every_kernel, wait_until
from test_export import Exporter, free_port
from test_keepalive import open_pair

USER, PASSWORD = "prometheus", "s3cret pass"


def bcrypt(password, prefix=b"$2b$", cost=5):
    """libcrypt's bcrypt of password, as htpasswd -B would make it (its
    default cost is 5)"""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = (ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    return lib.crypt(password.encode(), lib.crypt_gensalt(prefix, cost, None, 0)).decode()


def make_cert(directory, name):
    """A self-signed certificate for 127.0.0.1: NAME.crt, NAME.key"""
    crt, key = (os.path.join(directory, f"{name}.{ext}") for ext in ("crt", "key"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return crt, key


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def curl(url, *args, user=None, ca=None):
    """HTTP status and headers of one request ("000": no HTTP answer)."""
    cmd = ["curl", "-sS", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "--max-time", "10"]
    if ca:
        cmd += ["--cacert", ca]
    if user:
        cmd += ["-u", user]
    p = subprocess.run(cmd + list(args) + [url], capture_output=True, text=True, timeout=30)
    return p.stdout[-3:], p.stdout[:-3]


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_webconfig_prometheus_tls_basic_auth():
    """Prometheus scrapes over TLS (CA file) with basic auth: the target is
    up and a gauge of a namespace's connections reads back; curl without
    credentials, with a wrong password or user gets 401 and
    WWW-Authenticate, /healthz too; plain HTTP gets no answer. Relative
    cert_file and key_file are found beside the config file."""
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="tkw-web-")
    try:
        crt, _ = make_cert(tmp, "server")
        web = write(os.path.join(tmp, "web.yml"),
                    "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                    f"basic_auth_users:\n  {USER}: '{bcrypt(PASSWORD)}'\n"
                    f"  other: {bcrypt('other', b'$2y$', 4)}\n")
        base = f"https://127.0.0.1:{port}"
        job = (f"scheme: https\ntls_config:\n  ca_file: {crt}\n"
               f"basic_auth:\n  username: {USER}\n  password: '{PASSWORD}'\n"
               f"static_configs:\n  - targets: ['127.0.0.1:{port}']")
        # Prometheus from the start: its first scrape comes seconds after
        # it starts (its discovery's 5 s), meanwhile curl's checks run
        with Netns() as ns, Exporter("--listen", f"127.0.0.1:{port}", "--web-config", web,
                                     "--labels", "netns") as ex, Prometheus(job) as prom:
            check(any(f"https://127.0.0.1:{port}/metrics (basic auth)" in line
                      for line in ex.err), f"first line: {ex.err}")
            open_pair(ns, 5410, server_args=(), client_args=())

            for path in ("/metrics", "/healthz"):
                code, headers = curl(base + path, ca=crt)
                check(code == "401" and 'WWW-Authenticate: Basic realm="tcpkawatch"' in headers,
                      f"{path} without credentials: {code} {headers!r}")
                code, _ = curl(base + path, ca=crt, user=f"{USER}:wrong")
                check(code == "401", f"{path} with a wrong password: {code}")
                code, _ = curl(base + path, ca=crt, user=f"nobody:{PASSWORD}")
                check(code == "401", f"{path} as an unknown user: {code}")
                code, _ = curl(base + path, ca=crt, user=f"{USER}:{PASSWORD}")
                check(code == "200", f"{path} with the right password: {code}")
            check(curl(base + "/healthz", ca=crt, user="other:other")[0] == "200",
                  "the second user ($2y$)")
            code, _ = curl(f"http://127.0.0.1:{port}/metrics", user=f"{USER}:{PASSWORD}")
            check(code == "000", f"plain HTTP on the TLS port: {code}")

            def target():
                data = prom.api("targets")[1]
                active = data["activeTargets"] if data else []
                return active[0] if active and active[0]["health"] != "unknown" else None

            t = wait_until(target, 60, "Prometheus' first scrape")
            check(t["health"] == "up" and not t["lastError"]
                  and t["scrapeUrl"].startswith("https"), f"target: {t}")
            up = wait_until(lambda: prom.value('up{job="tcpkawatch"}'), 30, "up in Prometheus")
            check(up == 1, f"up {up}")
            est = wait_until(lambda: prom.value(f'tcpkawatch_established_connections'
                                                f'{{netns="{ns.inode}",keepalive="false"}}'),
                             30, "the namespace's connections in Prometheus")
            check(est == 2, f"established without keepalive: {est}")
            check(ex.stop() == 0, "exit code")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def send_request(port, credentials):
    """A socket with a whole GET /metrics sent, with basic auth"""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    auth = base64.b64encode(credentials.encode()).decode()
    sock.sendall(f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Basic {auth}\r\n\r\n".encode())
    return sock


def status_of(sock):
    """The HTTP status the server answered on sock (None: closed)"""
    with sock.makefile("rb") as f:
        line = f.readline()
    return int(line.split()[1]) if line else None


def test_webconfig_bcrypt_off_the_server_thread():
    """Wrong passwords cost a bcrypt each, on a thread of its own: a
    scrape with the right password, remembered from an earlier one,
    answers while a dozen wrong ones sent before it wait for theirs (on
    the server's thread it would wait behind them); Ctrl-C with checks
    still queued ends the exporter cleanly. Basic auth without TLS."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tkw-web-") as tmp:
        # cost 10: each wrong password's check takes long enough that the
        # dozen queued ones would hold up a scrape answered on their thread
        web = write(os.path.join(tmp, "web.yml"),
                    f"basic_auth_users:\n  {USER}: '{bcrypt(PASSWORD, cost=10)}'\n")
        url = f"http://127.0.0.1:{port}/metrics"
        with Exporter("--listen", f"127.0.0.1:{port}", "--web-config", web) as ex:
            check(curl(url, user=f"{USER}:{PASSWORD}")[0] == "200", "the first scrape")
            wrong = [send_request(port, f"{USER}:wrong{i}") for i in range(12)]
            try:
                # in this process: a curl's start alone takes most of a
                # second in a qemu guest
                start = time.monotonic()
                right = send_request(port, f"{USER}:{PASSWORD}")
                code = status_of(right)
                took = time.monotonic() - start
                right.close()
                codes = [status_of(sock) for sock in wrong]
                queue = time.monotonic() - start
            finally:
                for sock in wrong:
                    sock.close()
            check(code == 200, f"the remembered password: {code}")
            check(codes == [401] * len(wrong), f"wrong passwords: {codes}")
            check(took < queue / 3, f"a remembered scrape took {took:.3f}s, the 12 wrong "
                  f"passwords sent before it {queue:.3f}s")
            late = [send_request(port, f"{USER}:late{i}") for i in range(8)]
            try:
                start = time.monotonic()
                check(ex.stop() == 0, "exit code with checks queued")
                check(time.monotonic() - start < 10, "Ctrl-C with checks queued took long")
            finally:
                for sock in late:
                    sock.close()


def test_webconfig_tls_only():
    """No basic_auth_users: TLS, no credentials asked."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tkw-web-") as tmp:
        crt, key = make_cert(tmp, "server")
        web = write(os.path.join(tmp, "web.yml"),
                    f"tls_server_config:\n  cert_file: {crt}\n  key_file: {key}\n")
        with Exporter("--listen", f"127.0.0.1:{port}", "--web-config", web) as ex:
            wait_until(lambda: curl(f"https://127.0.0.1:{port}/healthz", ca=crt)[0] == "200", 10,
                       "/healthz over TLS without credentials to say 200")
            check(ex.stop() == 0, "exit code")


@same_on_every_kernel
def test_webconfig_bad():
    """Each bad config: exit code 2, one line naming the file, nothing
    listening, before anything is loaded."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tkw-web-") as tmp:
        crt, key = make_cert(tmp, "server")
        make_cert(tmp, "other")
        garbage = write(os.path.join(tmp, "garbage.crt"), "-----BEGIN CERTIFICATE-----\nxx\n")
        good_hash = bcrypt(PASSWORD, cost=4)
        tls = "tls_server_config:\n  cert_file: {}\n  key_file: {}\n"
        missing, directory = os.path.join(tmp, "missing.yml"), tmp
        cases = [  # what, the config file or its text, what its line must say
            ("missing file", missing, "No such file or directory"),
            ("a directory", directory, "Is a directory"),
            ("bad YAML", "tls_server_config: [\n", "line 2"),
            ("unknown key", "http_server_config:\n  http2: true\n", "'http_server_config'"),
            ("unknown TLS key", tls.format(crt, key) + "  client_ca_file: ca.crt\n",
             "'tls_server_config.client_ca_file'"),
            ("missing cert file", tls.format("nothere.crt", key),
             f"{tmp}/nothere.crt: No such file or directory"),
            ("cert_file without key_file", "tls_server_config:\n  cert_file: server.crt\n",
             "without key_file"),
            ("not a certificate", tls.format(garbage, key), "garbage.crt"),
            ("key of another certificate", tls.format(crt, "other.key"), "do not match"),
            ("not bcrypt", f"basic_auth_users:\n  {USER}: plain\n", "not a bcrypt hash"),
            ("bcrypt cut short", f"basic_auth_users:\n  {USER}: '{good_hash[:-1]}'\n",
             "not a bcrypt hash"),
            ("a user twice", f"basic_auth_users:\n  a: '{good_hash}'\n  a: '{good_hash}'\n",
             "twice"),
            # 2^31 rounds: hours a check (the shape of a hash, not computed)
            ("bcrypt cost 31", f"basic_auth_users:\n  {USER}: '$2b$31${good_hash[7:]}'\n",
             "cost 4 to 15"),
            ("a control character in a name",
             f'basic_auth_users:\n  "a\\x1b[2Jb": plain\n', "a?[2Jb"),
        ]
        for what, text, why in cases:
            path = text if text in (missing, directory) else write(
                os.path.join(tmp, "web.yml"), text)
            start = time.monotonic()
            p = subprocess.run([TCPKAWATCH, "export", "--listen", f"127.0.0.1:{port}",
                                "--web-config", path], capture_output=True, text=True,
                               timeout=30)
            lines = p.stderr.strip().splitlines()
            check(p.returncode == 2 and len(lines) == 1 and path in lines[0] and why in lines[0],
                  f"{what}: rc {p.returncode}, {p.stderr!r} (want {why!r})")
            check(time.monotonic() - start < 5 and not listening(port),
                  f"{what}: something listens on {port}")
