#!/usr/bin/env python3
"""Opens a WebSocket with the plain `websockets` library and reports how the server refused it.

Prints one JSON line: {"status": <HTTP status of the refusal>, "seconds": <time to learn it>}, or
{"error": "...", "seconds": ...} when the connection failed some other way (a timeout among them), or
{"status": 101, ...} when it was not refused at all. The open timeout bounds every wait.

usage: refused_upgrade.py <ws-or-wss-url> <ca-file or -> <origin>
"""
import asyncio
import json
import ssl
import sys
import time

import websockets


async def main(url, cafile, origin):
    tls = ssl.create_default_context(cafile=cafile) if cafile != "-" else None
    started = time.monotonic()
    try:
        async with websockets.connect(url, ssl=tls, origin=origin, open_timeout=10):
            out = {"status": 101}
    except websockets.exceptions.InvalidStatusCode as e:
        out = {"status": e.status_code}
    except Exception as e:  # noqa: BLE001 - whatever it was, the test shows it
        out = {"error": repr(e)}
    out["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
