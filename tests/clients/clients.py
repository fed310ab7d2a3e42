"""The official Python clients against linegate (the backend, or the Worker in front of it),
driven by tests/clients/clients.test.mjs: each mode writes known points and prints, as one
JSON object, what the client saw (results, and the error a malformed write raised), for the
Node side to compare with the backend's export.

  python clients.py v2 URL TOKEN ORG BUCKET GZIP    influxdb-client (InfluxDB 2.x API)
  python clients.py v1 HOST PORT USER PASS DB RP    influxdb (1.x API, /write)
  python clients.py partial URL TOKEN ORG BUCKET    influxdb-client: a batch with one bad line
  python clients.py retry URL TOKEN ORG BUCKET N    influxdb-client's batching WriteApi with its
                                                    default WriteOptions: N points, then close()
"""

import json
import sys


def v2(url, token, org, bucket, gzip):
    from influxdb_client import InfluxDBClient, Point, WriteOptions, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException

    out = {}
    with InfluxDBClient(url=url, token=token, org=org, enable_gzip=gzip == "1", timeout=20_000) as c:
        out["ready"] = c.ready().status
        out["health"] = c.health().status
        out["ping"] = c.ping()
        b = c.buckets_api().find_bucket_by_name(bucket)
        out["bucket"] = {"id": b.id, "name": b.name} if b else None
        w = c.write_api(write_options=SYNCHRONOUS)
        w.write(
            bucket=bucket,
            record=[
                Point("sync").tag("host", "a b").field("f", 1.5).field("i", 7).time(1700000000000000001, WritePrecision.NS),
                "sync,host=c s=\"x y\",t=true 1700000000000000002",
            ],
        )
        done = []
        batch = c.write_api(
            write_options=WriteOptions(batch_size=3, flush_interval=10_000, max_retries=0),
            success_callback=lambda conf, data: done.append(len(data)),
        )
        batch.write(
            bucket=bucket,
            write_precision=WritePrecision.S,
            record=[f"batch,n={i} v={i}i {1700000000 + i}" for i in range(7)],
        )
        batch.close()
        out["batches"] = len(done)
        try:
            w.write(bucket=bucket, record="m f=")
            out["error"] = None
        except ApiException as e:
            body = e.body.decode() if isinstance(e.body, bytes) else e.body
            out["error"] = {"status": e.status, "body": json.loads(body), "message": getattr(e, "message", None)}
    print(json.dumps(out))


def v1(host, port, user, password, db, rp):
    from influxdb import InfluxDBClient
    from influxdb.exceptions import InfluxDBClientError

    out = {}
    c = InfluxDBClient(host=host, port=int(port), username=user, password=password, database=db, timeout=20)
    rp = rp or None
    points = [
        {"measurement": "py1", "tags": {"host": "a"}, "fields": {"v": 1.25, "n": 3}, "time": 1700000000},
        {"measurement": "py1", "tags": {"host": "b"}, "fields": {"v": 2.5, "s": "q"}, "time": 1700000001},
    ]
    out["s"] = c.write_points(points, time_precision="s", retention_policy=rp)
    out["ms"] = c.write_points(
        [{"measurement": "py1ms", "fields": {"v": 1}, "time": 1700000000123}], time_precision="ms", retention_policy=rp
    )
    try:
        c.write_points(["m f="], protocol="line", retention_policy=rp)
        out["error"] = None
    except InfluxDBClientError as e:
        content = e.content.decode() if isinstance(e.content, bytes) else e.content
        out["error"] = {"status": e.code, "body": json.loads(content)}
    print(json.dumps(out))


def partial(url, token, org, bucket):
    from influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException

    out = {"error": None}
    with InfluxDBClient(url=url, token=token, org=org, timeout=20_000) as c:
        w = c.write_api(write_options=SYNCHRONOUS)
        try:
            w.write(bucket=bucket, record=["py,k=a v=1i 1", "py,k=b v=oops 2", "py,k=c v=3i 3"])
        except ApiException as e:
            body = e.body.decode() if isinstance(e.body, bytes) else e.body
            out["error"] = {"status": e.status, "body": json.loads(body)}
    print(json.dumps(out))


def retry(url, token, org, bucket, n):
    """The batching WriteApi exactly as a user gets it (WriteOptions() defaults: batches of
    1000, flushed each second, 5 retries honouring Retry-After, 180 s in all), recording what
    its callbacks saw and when."""
    import time
    from influxdb_client import InfluxDBClient, WriteOptions, WritePrecision

    out = {"success": [], "error": [], "retry": []}
    t0 = time.monotonic()
    at = lambda: round(time.monotonic() - t0, 3)

    def lines(data):
        text = data.decode() if isinstance(data, bytes) else data
        return len([l for l in text.split("\n") if l])

    def on_retry(conf, data, e):
        response = getattr(e, "response", None)
        out["retry"].append({
            "at": at(),
            "status": getattr(response, "status", None),
            "retry_after": getattr(e, "retry_after", None),
            "message": str(e),
        })

    with InfluxDBClient(url=url, token=token, org=org, timeout=20_000) as c:
        w = c.write_api(
            write_options=WriteOptions(),
            success_callback=lambda conf, data: out["success"].append({"at": at(), "lines": lines(data)}),
            error_callback=lambda conf, data, e: out["error"].append({"at": at(), "error": str(e)}),
            retry_callback=on_retry,
        )
        w.write(bucket=bucket, write_precision=WritePrecision.S,
                record=[f"pyretry,n={i} v={i}i {1700000000 + i}" for i in range(int(n))])
        w.close()
    out["elapsed"] = at()
    print(json.dumps(out))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"v2": v2, "v1": v1, "partial": partial, "retry": retry}[mode](*args)
