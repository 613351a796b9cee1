#!/usr/bin/env python3
# Regenerates the codec test fixtures with real tools: Python's zipfile writing to a pipe-like
# (non-seekable) stream, which lays an entry out as Go's archive/zip (k3s) does -- Deflate,
# flag 0x8, zero sizes in the local header, data descriptor -- plus Info-ZIP `zip` and the
# `zstd` CLI. Run from anywhere: python3 gen.py (needs zip and zstd on PATH).
import io
import os
import random
import subprocess
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATE_TIME = (2023, 11, 14, 22, 13, 20)
MTIME = 1700000000


def content():
    # Compressible key/value-like text, then incompressible bytes, like an etcd snapshot.
    text = b"".join(b"/registry/pods/default/pod-%05d {\"phase\":\"Running\"}\n" % i
                    for i in range(160))
    rng = random.Random(20231114)
    return text + bytes(rng.getrandbits(8) for _ in range(4096))


class Unseekable:
    """A write-only stream: zipfile then streams entries with data descriptors."""

    def __init__(self, sink):
        self.sink = sink

    def write(self, data):
        return self.sink.write(data)

    def flush(self):
        pass


def entry(name):
    info = zipfile.ZipInfo(name, date_time=DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100600 << 16
    return info


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    data = content()
    write("content.bin", data)

    # k3s-style: one Deflate entry, streamed.
    buffer = io.BytesIO()
    with zipfile.ZipFile(Unseekable(buffer), "w") as z:
        with z.open(entry("etcd-snapshot-node1-1700000000"), "w") as f:
            f.write(data)
    streamed = buffer.getvalue()
    assert streamed[6] & 0x8 and streamed[18:26] == bytes(8), "expected a data descriptor"
    write("k3s-style.zip", streamed)

    # Streamed but stored (no compression): zip readers hand out an empty last block here.
    buffer = io.BytesIO()
    stored = entry("etcd-snapshot-node1-1700000002")
    stored.compress_type = zipfile.ZIP_STORED
    with zipfile.ZipFile(Unseekable(buffer), "w") as z:
        with z.open(stored, "w") as f:
            f.write(data)
    write("stored-streamed.zip", buffer.getvalue())

    # Info-ZIP zip of a file (sizes in the local header, no descriptor).
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "on-demand-node1-1700000001")
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (MTIME, MTIME))
        target = os.path.join(tmp, "out.zip")
        subprocess.run(["zip", "-q", "-X", "-j", target, path], check=True)
        with open(target, "rb") as f:
            write("info-zip.zip", f.read())

    # zstd CLI (content checksum on by default).
    zst = subprocess.run(["zstd", "-q", "-19", "-c"], input=data, check=True,
                         stdout=subprocess.PIPE).stdout
    write("content.zst", zst)

    # Two entries: must be refused.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(entry("etcd-snapshot-node1-1700000000"), data[:1000])
        z.writestr(entry("extra-file"), b"not a snapshot\n")
    write("two-entries.zip", buffer.getvalue())

    # A directory entry before the file: must be refused.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo("snapshots/", date_time=DATE_TIME), b"")
        z.writestr(entry("snapshots/etcd-snapshot-node1-1700000000"), data[:1000])
    write("with-directory.zip", buffer.getvalue())


if __name__ == "__main__":
    main()
