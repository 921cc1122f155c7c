"""Scrapes a running kafka-mirror the way Prometheus and scripts do, with
clients nobody here wrote: urllib for HTTP, prometheus_client's parser for
the exposition. Prints one JSON object:

  {"metrics": {family: {"type": ..., "samples": [{"name", "labels", "value"}]}},
   "content_type": ..., "status": <the /status JSON>,
   "healthz": {"code": ..., "body": <JSON>}}

Usage: scrape.py http://HOST:PORT
"""

import json
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def main():
    base = sys.argv[1].rstrip("/")
    code, content_type, text = get(base + "/metrics")
    if code != 200:
        raise SystemExit(f"/metrics answered {code}: {text}")
    families = {}
    for f in text_string_to_metric_families(text):
        families[f.name] = {
            "type": f.type,
            "help": f.documentation,
            "samples": [
                {"name": s.name, "labels": s.labels, "value": s.value}
                for s in f.samples
            ],
        }
    _, _, status = get(base + "/status")
    hcode, _, health = get(base + "/healthz")
    json.dump(
        {
            "metrics": families,
            "content_type": content_type,
            "status": json.loads(status),
            "healthz": {"code": hcode, "body": json.loads(health)},
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
