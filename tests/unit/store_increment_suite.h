// The increment rules of SnapshotStore (lib/store/snapshot_store.h), checked the same way for
// every store: the local store (tests/unit/local_store_test.cc) and S3Store against a real RGW
// (tests/integration/s3_test.cc). Each check takes a store that holds nothing yet; where the
// increments landed (the file or key) each test checks on its own.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "snapshot/snapshot_name.h"
#include "store/snapshot_store.h"

namespace snapd::increment_suite {

// Bytes of every value, NULs and newlines among them.
inline std::string BinaryBytes(size_t size, uint32_t seed) {
  std::mt19937 engine(seed);
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>(i < 256 ? i : engine() & 0xff);
  }
  return bytes;
}

// Stores a small snapshot `name`.
inline void SaveSnapshot(SnapshotStore& store, const std::string& name) {
  const std::string bytes = "snapshot " + name;
  auto writer = store.Create(name);
  writer->Write(bytes);
  SnapshotRecord record;
  record.name = name;
  record.node = "node-1";
  record.size = bytes.size();
  record.sha256 = Sha256::HexOf(bytes);
  record.created_at = ParseSnapshotTime(name).value_or(1700000000);
  writer->Commit(record);
}

inline std::vector<std::string> SnapshotNames(SnapshotStore& store) {
  std::vector<std::string> names;
  for (const SnapshotRecord& r : store.List()) names.push_back(r.name);
  std::sort(names.begin(), names.end());
  return names;
}

inline std::vector<std::string> Sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

inline void RequireKind(ErrorKind kind, const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(ErrorKindName(e.kind()) == ErrorKindName(kind));
    return;
  }
  FAIL("expected a " << ErrorKindName(kind) << " error");
}

inline const std::string kBase = "etcd-snapshot-n1-1733000000.zip";

// Every suffix, binary bytes (one over the 1 MiB a record may be), read back whole; a missing one
// is kNotFound; RemoveIncrements forgives a missing name.
inline void CheckRoundTrip(SnapshotStore& store) {
  CHECK(store.ListIncrements().empty());
  const std::vector<std::string> names = {
      kBase + ".101-250-1733000300.inc",
      kBase + ".251-300-1733000360.inc.zst",
      kBase + ".301-400-1733000420.inc.age",
      kBase + ".401-500-1733000480.inc.zst.age",
  };
  std::vector<std::string> bodies;
  for (size_t i = 0; i < names.size(); ++i) {
    bodies.push_back(BinaryBytes(i == 0 ? (1 << 20) + 4097 : 300 + i, static_cast<uint32_t>(i)));
    store.PutIncrement(names[i], bodies.back());
  }
  store.PutIncrement(kBase + ".501-501-1733000500.inc", "");
  std::vector<std::string> all = names;
  all.push_back(kBase + ".501-501-1733000500.inc");
  CHECK(store.ListIncrements() == Sorted(all));
  for (size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    CHECK(store.ReadIncrement(names[i]) == bodies[i]);
  }
  CHECK(store.ReadIncrement(kBase + ".501-501-1733000500.inc").empty());
  RequireKind(ErrorKind::kNotFound,
              [&] { store.ReadIncrement(kBase + ".900-901-1733000900.inc"); });

  CHECK(store.RemoveIncrements({names[0], kBase + ".900-901-1733000900.inc"}).empty());
  all.erase(all.begin());
  CHECK(store.ListIncrements() == Sorted(all));
  RequireKind(ErrorKind::kNotFound, [&] { store.ReadIncrement(names[0]); });
  const std::vector<RemoveFailure> failed = store.RemoveIncrements({"../escape.inc", "x.zip"});
  REQUIRE(failed.size() == 2);
  CHECK(failed[0].name == "../escape.inc");
  CHECK(failed[1].name == "x.zip");
  CHECK(store.RemoveIncrements(all).empty());
  CHECK(store.ListIncrements().empty());
}

// A reader never sees part of an increment while it is replaced, nor a mix of two versions.
inline void CheckOverwriteIsAtomic(SnapshotStore& store, int rounds) {
  const std::string name = kBase + ".1-2-1733000000.inc.zst";
  const std::string a = BinaryBytes(200000, 1);
  const std::string b = BinaryBytes(150001, 2);
  store.PutIncrement(name, a);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      try {
        const std::string got = store.ReadIncrement(name);
        if (got != a && got != b) ++torn;
      } catch (const std::exception&) {
        ++torn;  // not found in between is not atomic either
      }
      ++reads;
    }
  });
  for (int i = 0; i < rounds; ++i) store.PutIncrement(name, i % 2 == 0 ? b : a);
  done = true;
  reader.join();
  CHECK(torn.load() == 0);
  CHECK(reads.load() > 0);
  CHECK(store.ReadIncrement(name) == (rounds % 2 == 0 ? a : b));
  CHECK(store.ListIncrements() == std::vector<std::string>{name});
}

// Names that are not an increment's, or that would leave the folder, are refused up front.
inline void CheckInvalidNames(SnapshotStore& store) {
  for (const std::string& name :
       {std::string(), std::string("../escape.inc"), std::string("../../etc/passwd.inc"),
        std::string("a/b.inc"), std::string("x.inc/y.inc"), std::string("/abs.inc"),
        std::string(".hidden.inc"), std::string(".inc"), std::string("a\\b.inc"),
        std::string("x.inc\n"), std::string("x\0y.inc", 7), kBase, std::string("x.zst"),
        std::string("x.inc.gz"), std::string("x.inc.age.zst"), std::string("x.inc.part")}) {
    INFO("name: \"" << name << "\"");
    RequireKind(ErrorKind::kInvalidInput, [&] { store.PutIncrement(name, "bytes"); });
    RequireKind(ErrorKind::kInvalidInput, [&] { store.ReadIncrement(name); });
  }
  // Larger than any increment may be.
  RequireKind(ErrorKind::kInvalidInput, [&] {
    store.PutIncrement(kBase + ".1-2-3.inc", std::string(kMaxIncrementSize + 1, 'x'));
  });
  CHECK(store.ListIncrements().empty());
}

// Snapshots whose names are prefixes of each other, and increments that only look like theirs.
struct Neighbours {
  std::string a = "etcd-snapshot-n1-17";
  std::string a_longer = "etcd-snapshot-n1-170";
  std::string a_zip = "etcd-snapshot-n1-17.zip";
  std::vector<std::string> of_a = {a + ".1-5-100.inc", a + ".6-9-200.inc.zst.age",
                                   a + ".10-10-300.inc.age"};
  std::vector<std::string> others = {
      a_longer + ".1-5-100.inc",
      a_zip + ".1-5-100.inc.zst",
      a + ".x-5-100.inc",              // not a window: not a's
      a + ".1-5.inc",                  // two numbers only
      a + "-2.1-5-100.inc",            // another snapshot's
      "etcd-snapshot-n1-1.1-2-3.inc",  // of a snapshot that is not there
  };
};

inline void PutAll(SnapshotStore& store, const std::vector<std::string>& names) {
  for (const std::string& name : names) store.PutIncrement(name, "increment " + name);
}

// Remove takes the snapshot's increments and no other's.
inline void CheckRemoveTakesItsIncrements(SnapshotStore& store) {
  Neighbours n;
  for (const std::string& name : {n.a, n.a_longer, n.a_zip}) SaveSnapshot(store, name);
  PutAll(store, n.of_a);
  PutAll(store, n.others);
  store.Remove(n.a);
  CHECK(store.ListIncrements() == Sorted(n.others));
  CHECK(SnapshotNames(store) == Sorted({n.a_longer, n.a_zip}));
  for (const std::string& name : n.others) CHECK(store.ReadIncrement(name) == "increment " + name);
  // One without increments is removed as before.
  store.Remove(n.a_longer);
  store.Remove(n.a_zip);
  CHECK(store.ListIncrements().size() == n.others.size() - 2);
  RequireKind(ErrorKind::kNotFound, [&] { store.Remove(n.a); });
}

// RemoveMany likewise, for all of its names at once.
inline void CheckRemoveManyTakesTheirIncrements(SnapshotStore& store) {
  Neighbours n;
  const std::string b = "on-demand-n1-1733000100.zip.zst";
  for (const std::string& name : {n.a, n.a_longer, n.a_zip, b}) SaveSnapshot(store, name);
  PutAll(store, n.of_a);
  PutAll(store, n.others);
  const std::vector<std::string> of_b = {b + ".1-1-1733000101.inc.zst", b + ".2-9-1733000160.inc"};
  PutAll(store, of_b);
  CHECK(store.RemoveMany({n.a, b, "etcd-snapshot-n1-999"}).empty());
  CHECK(store.ListIncrements() == Sorted(n.others));
  CHECK(SnapshotNames(store) == Sorted({n.a_longer, n.a_zip}));
  CHECK(store.RemoveMany({n.a_longer}).empty());
  std::vector<std::string> left = n.others;
  left.erase(left.begin());
  CHECK(store.ListIncrements() == Sorted(left));
}

// Increments are never snapshots: List does not show them (nor trip on one whose base is gone),
// and RemoveIncomplete leaves them (and the snapshots) alone.
inline void CheckListIgnoresIncrements(SnapshotStore& store) {
  Neighbours n;
  SaveSnapshot(store, n.a);
  SaveSnapshot(store, n.a_zip);
  PutAll(store, n.of_a);
  PutAll(store, n.others);
  CHECK(SnapshotNames(store) == Sorted({n.a, n.a_zip}));
  store.RemoveIncomplete();
  std::vector<std::string> all = n.of_a;
  all.insert(all.end(), n.others.begin(), n.others.end());
  CHECK(store.ListIncrements() == Sorted(all));
  CHECK(SnapshotNames(store) == Sorted({n.a, n.a_zip}));
  const std::vector<SnapshotRecord> listed = store.List();
  for (const SnapshotRecord& r : listed) {
    INFO(r.name);
    CHECK(r.status == "ready");
    CHECK(r.node == "node-1");
  }
}

}  // namespace snapd::increment_suite
