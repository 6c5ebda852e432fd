#!/usr/bin/env python3
"""A Switchboard client written with the plain `websockets` library, not with this project's code.

Connects with a token in the query string, subscribes to one channel, prints READY once the subscription
is acknowledged, then prints the first message it receives as one JSON line and exits 0. Every wait is
bounded, so a broken server makes it exit non-zero instead of hanging.

usage: subscribe_once.py <ws-url> <token> <channel>
"""
import asyncio
import json
import sys

import websockets


async def main(url, token, channel):
    async with websockets.connect(f"{url}?token={token}", open_timeout=10) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "auth_success":
            print("AUTH_FAILED " + json.dumps(hello), flush=True)
            return 3
        await ws.send(json.dumps({"type": "subscribe", "id": "sub-1", "channel": channel}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("id") == "sub-1":
                if frame.get("type") != "ack":
                    print("SUBSCRIBE_FAILED " + json.dumps(frame), flush=True)
                    return 4
                print("READY", flush=True)
            elif frame.get("type") == "message":
                print(json.dumps(frame), flush=True)
                return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
