"""A tiny webhook receiver that prints OutcomeLoop's alerts as they arrive (standard library only).

Watch the demo's alerts arrive as time passes (four terminals, or background the first three):

    python examples/alert_receiver.py                      # listens on 127.0.0.1:8765
    export CX_WEBHOOK_URL=http://127.0.0.1:8765/cx         # turns the demo's `cx` channel on
    outcomeloop demo && outcomeloop dev                    # the event-driven loop (same shell env)
    outcomeloop demo --live                                # new days land every 10 s

The first evaluation tells what is already overdue or due soon (one message per rule, 20 items
named, the rest counted); after that each message is an item crossing into its last 12 hours or
past its deadline, a source going stale, or a run failing. Nothing is ever told twice.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()
        try:
            message = json.loads(body)
        except json.JSONDecodeError:
            print(f"{datetime.now():%H:%M:%S} (not JSON) {body[:200]!r}", flush=True)
            return
        print(f"{datetime.now():%H:%M:%S} {self.path}  {message.get('text', '')}", flush=True)
        for alert in message.get("alerts", []):
            unit = f" [{alert['unit']}]" if alert.get("unit") else ""
            print(f"    {alert['event']:15} {alert['subject']}{unit}", flush=True)

    def log_message(self, *args) -> None:  # the lines above say it all
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    host, port = server.server_address[:2]
    print(f"listening: export CX_WEBHOOK_URL=http://{host}:{port}/cx  (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
