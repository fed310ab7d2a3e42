"""The PyPI clients through the Worker in front of a real InfluxDB 1.x (tests/clients/
realdb.test.mjs runs this): influxdb 5.3 creates, lists and drops a database, writes points
without credentials and queries them back; influxdb-client reports ping/health/ready as it
hears them. Prints one JSON object."""

import json
import sys

from influxdb import InfluxDBClient
from influxdb_client import InfluxDBClient as V2Client


def v1(host, port):
    c = InfluxDBClient(host=host, port=port, database="pydb")
    c.create_database("pydb")
    names = [d["name"] for d in c.get_list_database()]
    points = [
        {
            "measurement": "py",
            "tags": {"host": "h%d" % (i % 3)},
            "fields": {"f": i + 0.5, "n": i, "s": 'v"%d\\' % i, "ok": i % 2 == 0},
            "time": 1_700_000_000_000 + i,
        }
        for i in range(40)
    ]
    assert c.write_points(points, time_precision="ms")
    rows = list(c.query("SELECT * FROM py ORDER BY time", epoch="ms").get_points())
    c.drop_database("pydb")
    after = [d["name"] for d in c.get_list_database()]
    return {"listed": "pydb" in names, "rows": rows, "dropped": "pydb" not in after}


def probes(url):
    out = {}
    with V2Client(url=url, token="x", org="o", timeout=5000) as c:
        out["ping"] = c.ping()
        out["health"] = c.health().status
        try:
            r = c.ready()
            out["ready"] = getattr(r, "status", None)
        except Exception as e:  # the client raises on a non-2xx answer
            out["ready"] = "error %s" % getattr(e, "status", type(e).__name__)
    return out


if __name__ == "__main__":
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "v1":
        host, port = url.split("//")[1].split(":")
        print(json.dumps(v1(host, int(port))))
    else:
        print(json.dumps(probes(url)))
