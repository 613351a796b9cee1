#!/usr/bin/env python3
# Regenerates the fuzz seed corpus in tests/fuzz/corpus/<target>/: small real examples of each
# input (fixtures from tests/unit/data, the shipped drop-ins, S3 bodies as AWS and Ceph RGW send
# them). Files it does not write (regression inputs of fixed findings, named finding-*) are kept.
# Run from anywhere: python3 tests/fuzz/make_corpus.py (needs zstd on PATH).
import base64
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
UNIT_DATA = os.path.join(ROOT, "tests", "unit", "data")


def put(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def copy(target, name, *path):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    shutil.copyfile(os.path.join(*path), os.path.join(CORPUS, target, name))


def database(size, seed):
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(size))


def messages(data, blob):
    """(remaining_bytes, blob) as etcd streams a snapshot: data chunks, then the SHA-256."""
    out, sent = [], 0
    while sent < len(data):
        chunk = data[sent:sent + blob]
        sent += len(chunk)
        out.append((len(data) - sent, chunk))
    out.append((0, hashlib.sha256(data).digest()))
    return out


def gateway(data, blob):
    lines = []
    for remaining, chunk in messages(data, blob):
        result = {"blob": base64.b64encode(chunk).decode()}
        if remaining:
            result = {"remaining_bytes": str(remaining), **result}
        lines.append(json.dumps({"result": result}, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def varint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def grpc(data, blob, header=True):
    out = b""
    for remaining, chunk in messages(data, blob):
        message = b""
        if header:  # ResponseHeader {cluster_id=1, member_id=2, revision=3, raft_term=4}
            h = b"\x08" + varint(0x1234567890) + b"\x10" + varint(42) + b"\x18\x07\x20\x02"
            message += b"\x0a" + varint(len(h)) + h
        if remaining:
            message += b"\x10" + varint(remaining)
        message += b"\x1a" + varint(len(chunk)) + chunk
        out += b"\x00" + struct.pack(">I", len(message)) + message
    return out


def gateway_seeds():
    t = "gateway_stream_decoder"
    put(t, "three-blobs", gateway(database(2000, 1), 700))
    put(t, "one-blob", gateway(database(512, 2), 32768))
    put(t, "empty-database", gateway(b"", 32768))
    put(t, "no-leader", '{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader",'
        '"http_status":"Service Unavailable"}}\n')
    put(t, "unary-error", '{"error":"etcdserver: request timed out","code":4,'
        '"message":"etcdserver: request timed out"}')
    put(t, "crlf-and-blank-lines", gateway(database(300, 3), 100).replace("\n", "\r\n\n"))


def grpc_seeds():
    t = "grpc_snapshot_decoder"
    put(t, "three-blobs", grpc(database(2000, 4), 700))
    put(t, "no-header", grpc(database(512, 5), 32768, header=False))
    put(t, "empty-database", grpc(b"", 32768))
    # A StatusResponse message: header {member_id}, version, dbSize, leader, raftIndex.
    header = b"\x08" + varint(0x1234567890) + b"\x10" + varint(0xABCDEF)
    put(t, "status-response", b"\x0a" + varint(len(header)) + header + b"\x12\x053.5.9" +
        b"\x18" + varint(1 << 20) + b"\x20" + varint(0xABCDEF) + b"\x28" + varint(12345))


def config_seeds():
    t = "config_loader"
    for name in sorted(os.listdir(os.path.join(ROOT, "etc"))):
        if not name.endswith(".yaml.example"):
            continue
        with open(os.path.join(ROOT, "etc", name)) as f:
            text = f.read()
        # Uncomment "# key: value" lines: every key the example shows, with its example value.
        keys = [m.group(1) for m in re.finditer(r"^# ([a-z0-9-]+: .*)$", text, re.M)]
        put(t, name.replace(".yaml.example", ""), "\n".join(keys) + "\n")
    put(t, "list-and-flags", "etcd-snapshot-encryption-recipients:\n"
        "  - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"
        "etcd-s3: true\netcd-s3-bucket: b\netcd-s3-secret-key-file: /etc/k3s-snapd/s3-secret\n"
        "\0--etcd-snapshot-retention=3\0--etcd-s3-timeout\0" "1h30m\0--node-name=n2")
    put(t, "types", "etcd-s3-insecure: yes\netcd-snapshot-retention: \"7\"\n"
        "etcd-s3-timeout: 45\nlog-level: debug\netcd-snapshot-schedule-cron: '@every 90m'\n")
    put(t, "unknown-key", "etcd-snapshot-retentoin: 3\n")


def api_seeds():
    t = "api_request"
    requests = {
        "healthz": "GET /healthz\n",
        "metrics": "GET /metrics\n",
        "status": "GET /v1/status\n",
        "list": "GET /v1/snapshots?node=n1\n",
        "save": 'POST /v1/snapshots\n{"name":"before-upgrade"}',
        "get-job": "GET /v1/jobs/1\n",
        "delete": "DELETE /v1/snapshots/etcd-snapshot-n1-1795395723.zst.age\n",
        "delete-encoded": "DELETE /v1/snapshots/etcd%2Dsnapshot-k3s-node-1795000000\n",
        "prune": 'POST /v1/prune\n{"name":"etcd-snapshot","retention":1}',
        "prune-calendar": 'POST /v1/prune\n{"name":"etcd-snapshot","retention":2,"keepHourly":24,'
                          '"keepDaily":7,"keepWeekly":4,"keepMonthly":12,"dryRun":true}',
        "verify-all": 'POST /v1/verify\n{"all":true}',
        "verify-one": 'POST /v1/verify\n{"name":"on-demand-n1-1795395733.zst.age"}',
        "restore": 'POST /v1/restore\n{"name":"etcd-snapshot-n1-1795395743.zst.age",'
                   '"storage":"s3","restoreToken":true,"force":false}',
        "wrong-method": "PUT /v1/snapshots\n",
    }
    for name, text in requests.items():
        put(t, name, text)


def s3_seeds():
    t = "s3_xml"
    ns = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    put(t, "list-objects", '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult' + ns + ">"
        "<Name>b</Name><Prefix>snapshots/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>"
        "<IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J"
        "</NextContinuationToken><Contents><Key>snapshots/etcd-snapshot-n1-1795395723.zip</Key>"
        "<LastModified>2026-11-22T01:02:03.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343"
        "645a3985328&quot;</ETag><Size>4922</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>snapshots/.metadata/etcd-snapshot-n1-1795395723.zip</Key><LastModified>"
        "2026-11-22T01:02:04+01:00</LastModified><ETag>\"e\"</ETag><Size>310</Size></Contents>"
        "<CommonPrefixes><Prefix>snapshots/.metadata/</Prefix></CommonPrefixes>"
        "</ListBucketResult>")
    put(t, "error-region", '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
        "AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting "
        "'eu-west-1'</Message><Region>eu-west-1</Region><RequestId>tx0000-a</RequestId>"
        "<HostId>h</HostId></Error>")
    put(t, "error-redirect", "<Error><Code>PermanentRedirect</Code><Message>use the endpoint"
        "</Message><Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint></Error>")
    put(t, "initiate", "<InitiateMultipartUploadResult" + ns + "><Bucket>b</Bucket><Key>k</Key>"
        "<UploadId>2~iCw_lDY8VoNi_9p6ZuH5EzoXbSgk8mL</UploadId></InitiateMultipartUploadResult>")
    put(t, "complete", "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket>"
        "<Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
        "</CompleteMultipartUploadResult>")
    put(t, "list-parts", "<ListPartsResult><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>"
        "<IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>"
        "<Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag><Size>5242880</Size></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>\"b\"</ETag><Size>17</Size></Part>"
        "</ListPartsResult>")
    put(t, "list-uploads", "<ListMultipartUploadsResult><Bucket>b</Bucket>"
        "<IsTruncated>true</IsTruncated><NextKeyMarker>k2</NextKeyMarker><NextUploadIdMarker>u2"
        "</NextUploadIdMarker><Upload><Key>k1</Key><UploadId>u1</UploadId><Initiated>"
        "2026-11-22T01:02:03.000Z</Initiated></Upload></ListMultipartUploadsResult>")
    put(t, "delete-result", "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key>"
        "<Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>")
    put(t, "http-date", "Sun, 06 Nov 1994 08:49:37 GMT")
    put(t, "rfc3339", "2026-11-22T01:02:03.123456789-07:30")
    put(t, "keys", "etcd-snapshot-n1-1795395723.zip\non-demand-\"a&b<c>'d\"-1\n")


def s3_endpoint_seeds():
    t = "s3_endpoint"
    seeds = {
        "aws": "s3.eu-central-1.amazonaws.com\ncluster-backups\nprod/etcd-snapshot-n1-1795395723.zip",
        "rgw-port": "http://127.0.0.1:7480\nbackups\non-demand-n1-1795395723",
        "ipv6": "[::1]:9000\nb\n.metadata/x y+z%41",
        "dotted-bucket": "https://minio.example.com/\nmy.bucket\nk",
    }
    for name, text in seeds.items():
        put(t, name, text)


def cron_seeds():
    t = "cron"
    specs = ["0 */12 * * *", "CRON_TZ=Europe/Berlin 30 2 * * *", "TZ=America/New_York 30 1 * * SUN",
             "@every 1h30m", "@daily", "0 0 29 2 *", "*/15 9-17 * JAN-MAR,dec MON-FRI",
             "5 4 1,15 * 1-5/2", "0 0 30 2 *", "  @hourly  "]
    for i, spec in enumerate(specs):
        put(t, "spec-%02d" % i, spec)


def duration_seeds():
    t = "go_duration"
    for i, d in enumerate(["1h30m", "1.5s", "300ms", "-2h45m0.5s", "0", "+5us", "1\u00b5s",
                           "9223372036854775807ns", "2562047h47m16.854775807s", ".5m"]):
        put(t, "duration-%02d" % i, d)


def name_seeds():
    t = "snapshot_name"
    names = ["etcd-snapshot-server-1-1795395723", "on-demand-n1-1795395723.zip",
             "etcd-snapshot-n1-1795395723.zst.age", "etcd-snapshot-n1-1795395723.zip.age.token.age",
             "etcd-snapshot\nserver-1\n", "zstd", "a.part", ".hidden"]
    for i, name in enumerate(names):
        put(t, "name-%02d" % i, name)


def record_seeds():
    t = "snapshot_record"
    put(t, "metadata", json.dumps({
        "k3s-snapd-record-version": "1", "name": "etcd-snapshot-n1-1795395723.zip.age",
        "node": "n1", "size": "4922", "sha256": "9b2cf535f27731c974343645a3985328" * 2,
        "createdAt": "2026-11-22T01:02:03Z", "status": "ready", "tokenHash": "0123456789ab",
        "compressed": "true", "encrypted": "true", "tokenBackup": "true"}))
    put(t, "metadata-failed", json.dumps({
        "k3s-snapd-record-version": "1", "node": "n1", "size": "0", "createdAt":
        "2026-11-22T01:02:03Z", "status": "failed", "error": "etcd went away"}))
    put(t, "k3s-extra-metadata", json.dumps({"cluster": "prod", "note": "before upgrade"}))
    put(t, "api-record", json.dumps({
        "name": "on-demand-n1-1795395723.zst", "node": "n1", "storage": "s3",
        "location": "s3://b/snapshots/on-demand-n1-1795395723.zst", "size": 4440,
        "createdAt": "2026-11-22T01:02:03Z", "compressed": True, "compression": "zstd",
        "encrypted": False, "tokenBackup": False, "status": "ready", "tokenHash": "",
        "sha256": ""}))


def codec_seeds():
    codec = os.path.join(UNIT_DATA, "codec")
    for name in ["k3s-style.zip", "info-zip.zip", "two-entries.zip", "with-directory.zip"]:
        copy("zip_decompress", name, codec, name)
    copy("zstd_decompress", "content.zst", codec, "content.zst")
    small = b"/registry/pods/default/pod-00001 {\"phase\":\"Running\"}\n" * 20
    for name, args in [("checksum.zst", ["-3", "--check"]), ("no-checksum.zst", ["-1", "--no-check"])]:
        put("zstd_decompress", name, subprocess.run(["zstd", "-c", "-q"] + args, input=small,
                                                    capture_output=True, check=True).stdout)
    # Two frames and a skippable frame in between: all one stream.
    frame = subprocess.run(["zstd", "-c", "-q"], input=b"second frame\n", capture_output=True,
                           check=True).stdout
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"skip"
    with open(os.path.join(CORPUS, "zstd_decompress", "checksum.zst"), "rb") as f:
        put("zstd_decompress", "frames-and-skippable.zst", f.read() + skippable + frame)


def age_seeds():
    age = os.path.join(UNIT_DATA, "age")
    for name in ["empty.age", "small.age", "two_recipients.age", "chunk_plus_one.age"]:
        copy("age_decrypt", name, age, name)
    for name in ["identity.txt", "identity2.txt", "recipient.txt"]:
        copy("age_keys", name, age, name)
    with open(os.path.join(age, "identity.txt")) as f:
        key = [line for line in f.read().splitlines() if line.startswith("AGE-SECRET-KEY-1")][0]
    put("age_keys", "identity-line", key)
    put("age_keys", "bip173", "a12uel5l")


def increment_body(base, revisions, confirmed_ms):
    """An increment file without its SHA-256: revisions are (revision, received_ms, events),
    events (is_delete, key, value, lease, create_revision, version)."""
    def string(b):
        return struct.pack("<I", len(b)) + b
    out = b"K3SINC1\n" + string(base.encode())
    out += struct.pack("<qqqQ", revisions[0][0], revisions[-1][0], confirmed_ms, len(revisions))
    for revision, received, events in revisions:
        out += struct.pack("<qqI", revision, received, len(events))
        for is_delete, key, value, lease, create, version in events:
            out += bytes([1 if is_delete else 0]) + string(key) + string(value)
            out += struct.pack("<qqqq", lease, create, revision, version)
    return out


def increment_seeds():
    t = "increment"
    ms = 1796634000000
    revisions = [(101, ms, [(False, b"/registry/pods/default/a", b"\x00k8s\x00", 0, 101, 1)]),
                 (102, ms + 5, [(False, b"/registry/leases/kube-node-lease/n1", b"", 7, 90, 4),
                                (True, b"/registry/pods/default/b", b"", 0, 0, 0)]),
                 (103, ms + 5, [(True, b"/registry/pods/default/a", b"", 0, 0, 0)])]
    body = increment_body("etcd-snapshot-n1-1796633990.zip", revisions, ms + 1000)
    put(t, "three-revisions.inc", body + hashlib.sha256(body).digest())
    put(t, "three-revisions-body", body)  # the target appends the hash itself
    one = increment_body("b", revisions[:1], ms)
    put(t, "one-revision.inc", one + hashlib.sha256(one).digest())
    put(t, "names", "etcd-snapshot-n1-1733.zip.101-150-1796634000.inc\n"
        "etcd-snapshot-n1-1733.zip.151-200-1796634100.inc.zst.age\n"
        "etcd-snapshot-n1-1733.zip.151-180-1796634050.inc.zst\n"
        "etcd-snapshot-n1-1733.zip.202-210-1796634200.inc.age\n"
        "etcd-snapshot-n1-1733.zip\n")


if __name__ == "__main__":
    gateway_seeds()
    grpc_seeds()
    config_seeds()
    api_seeds()
    s3_seeds()
    s3_endpoint_seeds()
    cron_seeds()
    duration_seeds()
    name_seeds()
    record_seeds()
    codec_seeds()
    age_seeds()
    increment_seeds()
