#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/seeds/<target>/.

The layouts are those documented on gateway_error_fuzz::checks (the core's
tests/fuzz_regressions.rs). Run from anywhere: python3 fuzz/make_seeds.py
"""

import hashlib
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent / "seeds"

NEGOTIATE = [
    # Browsers and common clients.
    b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    b"application/json, text/plain, */*",
    b"*/*",
    b"application/problem+json",
    b"application/problem+json, application/json;q=0.9",
    b"text/plain",
    # RFC 9110 section 12.5.1 examples.
    b"audio/*; q=0.2, audio/basic",
    b"text/plain; q=0.5, text/html, text/x-dvi; q=0.8, text/x-c",
    b"text/*, text/plain, text/plain;format=flowed, */*",
    b"text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, text/plain;level=2;q=0.4, */*;q=0.5",
    # Parameters, quoting, edge weights.
    b'text/plain; charset="UTF-8"; q=0.9, text/html;charset=utf-8;q=0.8',
    b'text/html;foo="a,b\\"c";q=1.000, application/json;q=0.001',
    b"application/json;q=0, */*;q=0",
    b"TEXT/HTML;Q=0.5, Application/JSON;q=0.4",
    b"image/png",
    b"",
    # Past the 8 KiB cut-off: the last, cut range must be ignored.
    b"text/plain;q=0.1, " * 500 + b"text/html",
]

RETRY_AFTER = [
    b"120",
    b"0",
    b"4294967295",
    b"4294967296",
    b" \t007\t ",
    b"Sun, 06 Nov 1994 08:49:37 GMT",
    b"Sunday, 06-Nov-94 08:49:37 GMT",
    b"Sun Nov  6 08:49:37 1994",
    b"Fri, 31 Dec 9999 23:59:59 GMT",
    b"Thu, 01 Jan 1970 00:00:00 GMT",
    b"Wed, 29 Feb 2024 12:00:00 GMT",
    b"-5",
    b"1.5",
    b"soon",
]

# The status byte: & 7 indexes 500, 502, 503, 504, 200, 404, 501, 599.
STATUS = {500: 0, 502: 1, 503: 2, 504: 3, 200: 4}


def response(status, content_type=b"", retry_after=b"", proxy_status=b"", body=b""):
    return b"%c%s\n%s\n%s\n%s" % (STATUS[status], content_type, retry_after, proxy_status, body)


PARSE = [
    # Our own rendered bodies (the core's render tests).
    response(
        502,
        b"application/json",
        b"30",
        b"gateway-demo;error=connection_refused;next-hop=\"product-service\"",
        b'{"error":{"code":502,"message":"Bad Gateway","details":"The product catalog is unreachable.","upstream":"product-service","kind":"connection_refused","retryable":true,"retry_after":30,"request_id":"req-42"}}',
    ),
    response(
        502,
        b"application/problem+json",
        b"30",
        b"bff;error=connection_refused",
        b'{"type":"https://errors.example.com/connection_refused","title":"Bad Gateway","status":502,"detail":"The product catalog is unreachable.","instance":"#req-42","upstream":"product-service","kind":"connection_refused","retryable":true,"retry_after":30,"request_id":"req-42"}',
    ),
    response(
        504,
        b"application/problem+json",
        body=b'{"type":"about:blank","title":"Gateway Timeout","status":504,"detail":"The server did not receive a timely response from the upstream server. The operation might still be processing."}',
    ),
    response(
        502,
        b"application/json",
        body=b'{"error":{"code":502,"message":"Bad Gateway","details":"<script>alert(\'x\')</script> & \\"q\\" \\\\ \xc3\xbc","upstream":"<b>\\"x\\"</b>"}}',
    ),
    response(
        503,
        b"text/plain; charset=utf-8",
        b"Sun, 06 Nov 1994 08:49:37 GMT",
        body=b"503 Service Unavailable\nThe service is temporarily unavailable. Please try again later.\n",
    ),
    response(
        502,
        b"text/html; charset=utf-8",
        body=b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>502 Bad Gateway</title>\n</head>\n<body>\n<h1>502 Bad Gateway</h1>\n<p>The product catalog is unreachable.</p>\n</body>\n</html>\n',
    ),
    # Other upstreams' shapes.
    response(502, proxy_status=b"inner; error=dns_timeout, edge; error=connection_refused"),
    response(500, body=b' {"detail": "no content type", "kind": "proxy_internal_error", "retry_after": "120"}'),
    response(503, b"application/vnd.api+json", body=b'{"errors":[{"status":"503"}]}'),
    response(502, b"application/json", body=b'{"error":{"details":7,"upstream":["a"],"kind":"nope","retry_after":-3,"request_id":null}}'),
    response(502, b"application/json", body=b"[" * 200),
    response(200, b"application/json", body=b"{}"),
    # Just past MAX_BODY_LEN (64 KiB).
    response(502, b"application/json", body=b'{"error":{"details":"' + b"x" * 65500 + b'"}}'),
]

PROXY_STATUS = [
    # flags, proxy name, upstream name, upstream Proxy-Status (RFC 9209 examples).
    b"\x00bff\n\n",
    b"\x1dbff\nproduct-service\nExampleCDN",
    b"\x07edge\nbackend\nproxy.example.net; error=dns_timeout",
    b"\x09gw\n\nExampleCDN, CacheServer; error=http_protocol_error",
    b'\x01gw\nup\nSomeProxy; error=http_protocol_error; details="Malformed response header: space before colon"',
    b'\x41gw\nup\nExampleCDN; error=connection_timeout; received-status=502; next-hop="origin.example.com"',
    b'\x00edge gateway\n\n"quoted", token, (inner list), 42, ?1, :YWJj:, 1.5;q=2',
    b"\x00\xc3\xbcber\n\xff\xfe\nbroken (",
    # Around MAX_UPSTREAM_PROXY_STATUS_LEN (4 KiB).
    b"\x01gw\nup\n" + b"a, " * 1365 + b"z",
    b"\x01gw\nup\n" + b"a, " * 1400,
]


def write(target, inputs):
    folder = ROOT / target
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for data in inputs:
        (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


write("negotiate", NEGOTIATE)
write("retry_after", RETRY_AFTER)
write("parse", PARSE)
write("proxy_status", PROXY_STATUS)
