#!/usr/bin/env python3
"""Write the committed seed corpora of the fuzz targets (fuzz/seeds/<target>/).

Seeds are real shapes: replies of the mock Duo service (tests/src/bin/mockduo.rs), the sample
configs (conf/*.conf), and the examples of the SPEC. Run from anywhere; it rewrites the seed
files it knows and leaves every other file alone (inputs kept from fuzzing runs are named
regress-*).
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ok(response):
    return json.dumps({"stat": "OK", "response": response})


MENU = {
    "result": "auth",
    "status_msg": "Account is active",
    "prompt": {
        "text": "Duo two-factor login for alice\n\nEnter a passcode or select one of the following options:\n\n 1. Duo Push to XXX-XXX-1234\n 2. Phone call to XXX-XXX-1234\n 3. SMS passcodes to XXX-XXX-1234\n 4. Phone call to XXX-XXX-5678\n\nPasscode or option (1-4): ",
        "factors": {"default": "push1", "1": "push1", "2": "voice1", "3": "smsrefresh1", "4": "voice2"},
    },
}
BODIES = {
    "ping": ok({"time": 1700000000}),
    "menu": ok(MENU),
    "menu-vp": ok(dict(MENU, txid="vp-alice")),
    "allow": ok({"result": "allow", "status_msg": "preauth-allowed"}),
    "deny": ok({"result": "deny", "status_msg": "preauth-denied"}),
    "evil": ok({"result": "deny", "status_msg": "\u001b]0;PWNED\u0007 denied"}),
    "enroll": ok({"result": "enroll", "status_msg": "Enroll an authentication device to proceed",
                  "prompt": {"text": "Please enroll at https://example.invalid/enroll"}}),
    "fail": json.dumps({"stat": "FAIL", "code": 40002, "message": "Invalid request parameters",
                        "message_detail": "username"}),
    "auth-async": ok({"txid": "tx1:alice:push1"}),
    "auth-allow": ok({"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."}),
    "auth-deny": ok({"result": "deny", "status": "deny", "status_msg": "Login request denied."}),
    "waiting": ok({"result": "waiting", "status": "pushed", "status_msg": "Please enter verification code 708 into Duo Mobile..."}),
    "bad-stat": json.dumps({"stat": "BAD_STATUS", "response": {}}),
    "no-status-msg": ok({"result": "allow"}),
}

# json_reply: selector byte (low 2 bits: 0 ping, 1 preauth, 2 sync auth, 3 auth_status), an
# answer line, NUL, the body.
for sel, answer, name in [
    (0, "", "ping"), (1, "1", "menu"), (0x21, "2", "menu-vp"), (0x41, "", "menu"),
    (0x81 | 0x08, "123456", "menu"), (1, "", "allow"), (1, "", "deny"), (1, "", "evil"),
    (1, "", "enroll"), (1, "", "fail"), (1, "", "bad-stat"), (1, "", "no-status-msg"),
    (2, "", "auth-allow"), (2, "", "auth-deny"), (3, "", "waiting"), (3, "", "auth-allow"),
    (2, "", "auth-async"), (2, "", "fail"),
]:
    put("json_reply", f"{sel:02x}-{name}", bytes([sel]) + answer.encode() + b"\0" + BODIES[name].encode())


def reply(status, body, extra="", reason=None):
    reason = reason or ("OK" if status == 200 else "Status")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}")


def chunked(body, size=16, ext=""):
    b = body.encode()
    out = b""
    for i in range(0, len(b), size):
        piece = b[i:i + size]
        out += f"{len(piece):x}{ext}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\nX-Trailer: t\r\n\r\n"


# http_response: two control bytes (piece sizes, stalls, spent deadline), then the stream.
HTTP = {
    "ping": reply(200, BODIES["ping"]).encode(),
    "menu": reply(200, BODIES["menu"]).encode(),
    "two": (reply(200, BODIES["ping"]) + reply(200, BODIES["allow"])).encode(),
    "429": reply(429, json.dumps({"stat": "FAIL", "code": 42901, "message": "Too Many Requests"}),
                 "Retry-After: 1\r\n").encode(),
    "401": reply(401, json.dumps({"stat": "FAIL", "code": 40101, "message": "Invalid signature"})).encode(),
    "close-mid-reply": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"stat\": \"OK\", \"res",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(BODIES["allow"], 7, ";a=b"),
    "http10": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
    "204": b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
    # A long header line built by the repeat marker (\xff K N: the K bytes before, N*64 times).
    "repeat-head": b"HTTP/1.1 200 OK\r\nX-Pad: abcd\xff\x04\xff\r\nContent-Length: 0\r\n\r\n",
    # The chunk size that panicked the old reader (issue 10).
    "regress-chunk-overflow": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\nffffffffffffffff\r\nx",
}
for i, (name, stream) in enumerate(HTTP.items()):
    put("http_response", name, bytes([(i * 37) & 0xff, i | 1]) + stream)

# config: selector byte (bit 0: login_duo), then the file.
for name in ["pam_duo.conf", "login_duo.conf"]:
    with open(os.path.join(ROOT, "conf", name), "rb") as f:
        text = f.read()
    text = text.replace(b"ikey =\n", b"ikey = DIXXXXXXXXXXXXXXXXXX\n").replace(
        b"skey =\n", b"skey = deadbeefdeadbeefdeadbeefdeadbeefdeadbeef\n").replace(
        b"host =\n", b"host = api-xxxxxxxx.duosecurity.com\n")
    put("config", name, bytes([name.startswith("login")]) + text)
put("config", "spec-example", b"\0[duo]\nikey = I\nskey = S\nhost = h.example.com:8443\n"
    b"groups = users admins,!wheel *,!guest\ngroup = test group\\ name,groups\n"
    b"failmode = secure\npushinfo = yes\nhttps_timeout = 15\nprompts = 2\n"
    b"gecos_username_pos = 2\ngecos_delim = /\ncafile = /etc/duo/ca.pem\n"
    b"http_proxy = http://user:pw@proxy.example:3128/\n  ; continuation comment\n")
put("config", "continuation", b"\x01\xef\xbb\xbf[duo]\r\nikey = I\r\nskey = x\r\n  S ;kept\r\n"
    b"host = h\r\nmotd = on\r\nautopush = 1\r\naccept_env_factor = true\r\n")

# sanitize: menu and status texts.
put("sanitize", "menu", MENU["prompt"]["text"])
put("sanitize", "evil", "\u001b]0;PWNED\u0007 denied\r\nFORGED \u009b31m \u00e9\t\u007f")
put("sanitize", "long", "é" * 300)

# proxy: selector byte (bit 0: a CONNECT reply instead of an http_proxy value).
for i, v in enumerate(["http://user:pw@proxy.example:3128/x", "proxy.example", "HTTP://p:8080",
                       "a@b@c:1", "socks5://x:1"]):
    put("proxy", f"value-{i}", b"\0" + v.encode())
for i, r in enumerate(["HTTP/1.1 200 Connection established\r\n\r\n",
                       "HTTP/1.0 407 Proxy Authentication Required\r\n\r\n",
                       "HTTP/1.1 502 Bad Gateway\r\nServer: x\r\n\r\n"]):
    put("proxy", f"reply-{i}", b"\x01" + r.encode())

for i, a in enumerate(["127.0.0.1", "::1", "127.1", "0x7f.1", "2001:db8::5", "::ffff:1.2.3.4",
                       "host.example", "192.0.2.1 FORGED", "1.2.3.4.5"]):
    put("netaddr", f"addr-{i}", a)

for i, d in enumerate(["Tue, 21 Aug 2012 17:29:18 GMT", "Thu, 01 Jan 1970 00:00:00 GMT",
                       "Fri, 31 Dec 9999 23:59:60 GMT", "Mon, 31 Feb 2000 00:00:00 GMT"]):
    put("http_date", f"date-{i}", d)

# groups: the value, NUL, group names separated by NUL.
for i, (value, groups) in enumerate([
    ("users admins,!wheel", ["users", "wheel"]),
    ("test group\\ name,groups", ["group name"]),
    ("*,!guest adm?ns", ["admins", "guest"]),
    ("!wheel,!admin", ["wheel"]),
    ("a,,b *.example.com", ["", "x.example.com"]),
]):
    put("groups", f"g-{i}", value + "\0" + "\0".join(groups))

# gecos: settings byte, then the field.
for i, (sel, g) in enumerate([(1, "Al Ice,room 1,555-1234"), (2 | 1 << 5, "a,duo-bob,c"),
                              (2 | 1 << 2 | 2 << 5, "a/b/c"), (1, "")]):
    put("gecos", f"gecos-{i}", bytes([sel]) + g.encode())
