#!/usr/bin/env python3
"""Publish frames into a toposync-streaming transmission (standard library only).

A stand-in for a pipeline written in Python: it draws a moving bar and streams
raw BGR24 frames over one long HTTP request (the ingest's streaming variant:
each frame is a 4-byte big-endian length followed by the pixels). The first
frame opens the writer, the end of the request closes it.

    python3 examples/publish_frames.py --transmission <id> --seconds 30

Open the transmission's URL (GET /api/streams/transmissions/<id>/urls) in
ffplay or VLC to watch. For one frame at a time instead, send
PUT /api/streams/transmissions/<id>/writers/<writer>/frame with a JPEG, PNG or
raw body (see README.md).
"""
import argparse
import base64
import http.client
import json
import os
import ssl
import struct
import time
import urllib.parse


def draw(width, height, t):
    """A dark blue frame with a bright bar that moves one step per frame."""
    bar = (t * 8) % width
    row = bytearray(b"\x40\x10\x10" * width)  # BGR
    row[bar * 3:min(width, bar + 40) * 3] = b"\x20\xd0\xf0" * (min(width, bar + 40) - bar)
    return bytes(row) * height


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--api", default="http://127.0.0.1:8100", help="service address")
    p.add_argument("--transmission", required=True, help="transmission id")
    p.add_argument("--writer", default="example:bar", help="writer id ({pipeline}:{node})")
    p.add_argument("--priority", type=int, default=0)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=float, default=15)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--token", default=os.environ.get("TOPOSYNC_STREAMING_API_TOKEN", ""),
                   help="API token, when the service has one (default: $TOPOSYNC_STREAMING_API_TOKEN)")
    p.add_argument("--user", default=os.environ.get("TOPOSYNC_STREAMING_API_USERNAME", ""),
                   help="API username for Basic auth (default: $TOPOSYNC_STREAMING_API_USERNAME; "
                        "the password comes from $TOPOSYNC_STREAMING_API_PASSWORD)")
    p.add_argument("--cafile", help="CA certificate to trust for an https:// --api (a self-signed one)")
    a = p.parse_args()

    api = urllib.parse.urlsplit(a.api)
    path = "/api/streams/transmissions/%s/writers/%s/stream?%s" % (
        urllib.parse.quote(a.transmission, safe=""), urllib.parse.quote(a.writer, safe=""),
        urllib.parse.urlencode({"width": a.width, "height": a.height, "format": "bgr24", "priority": a.priority}))
    if api.scheme == "https":
        conn = http.client.HTTPSConnection(api.hostname, api.port or 443, context=ssl.create_default_context(cafile=a.cafile))
    else:
        conn = http.client.HTTPConnection(api.hostname, api.port or 80)
    conn.putrequest("POST", path)
    if a.token:
        conn.putheader("Authorization", "Bearer " + a.token)
    elif a.user:
        login = "%s:%s" % (a.user, os.environ.get("TOPOSYNC_STREAMING_API_PASSWORD", ""))
        conn.putheader("Authorization", "Basic " + base64.b64encode(login.encode()).decode())
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()

    start, n = time.monotonic(), 0
    while time.monotonic() - start < a.seconds:
        pixels = draw(a.width, a.height, n)
        chunk = struct.pack(">I", len(pixels)) + pixels
        conn.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        n += 1
        time.sleep(max(0.0, start + n / a.fps - time.monotonic()))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    print(resp.status, json.loads(resp.read()))


if __name__ == "__main__":
    main()
