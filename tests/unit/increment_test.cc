// Tests of lib/incremental's pure parts: the increment file (round trips, every rule, damage),
// increment names, which increments continue a base, and restore targets within a window.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "incremental/increment_chain.h"
#include "incremental/increment_format.h"

using namespace snapd;

namespace {

EtcdEvent Put(std::string key, std::string value, int64_t revision, int64_t lease = 0) {
  EtcdEvent event;
  event.kv = {std::move(key), std::move(value), lease, revision - 1, revision, 2};
  return event;
}

EtcdEvent Delete(std::string key, int64_t revision) {
  EtcdEvent event;
  event.is_delete = true;
  event.kv.key = std::move(key);
  event.kv.mod_revision = revision;
  return event;
}

// Revisions first..last, one put each, received a second apart from `start_ms`.
Increment Sample(int64_t first, int64_t last, int64_t start_ms = 1'796'000'000'000) {
  Increment inc;
  inc.base = "etcd-snapshot-node-1-1733.zip";
  inc.first_revision = first;
  inc.last_revision = last;
  for (int64_t r = first; r <= last; ++r) {
    inc.revisions.push_back(
        {r, start_ms + (r - first) * 1000, {Put("/registry/k" + std::to_string(r), "v", r)}});
  }
  inc.confirmed_unix_ms = start_ms + (last - first) * 1000 + 500;
  return inc;
}

// The file layout written independently of the encoder, with no rule checked: how the tests
// make well-hashed files that break the rules.
void Le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void Str(std::string& out, const std::string& s) {
  Le(out, s.size(), 4);
  out += s;
}
std::string WithSha(std::string body) {
  const Sha256Digest d = Sha256::Of(body);
  return body + std::string(reinterpret_cast<const char*>(d.data()), d.size());
}
std::string RawBody(const Increment& inc) {
  std::string out = "K3SINC1\n";
  Str(out, inc.base);
  Le(out, inc.first_revision, 8);
  Le(out, inc.last_revision, 8);
  Le(out, inc.confirmed_unix_ms, 8);
  Le(out, inc.revisions.size(), 8);
  for (const RecordedRevision& r : inc.revisions) {
    Le(out, r.revision, 8);
    Le(out, r.received_unix_ms, 8);
    Le(out, r.events.size(), 4);
    for (const EtcdEvent& e : r.events) {
      out.push_back(e.is_delete ? 1 : 0);
      Str(out, e.kv.key);
      Str(out, e.kv.value);
      Le(out, e.kv.lease, 8);
      Le(out, e.kv.create_revision, 8);
      Le(out, e.kv.mod_revision, 8);
      Le(out, e.kv.version, 8);
    }
  }
  return out;
}

void RequireSame(const Increment& a, const Increment& b) {
  REQUIRE(a.base == b.base);
  REQUIRE(a.first_revision == b.first_revision);
  REQUIRE(a.last_revision == b.last_revision);
  REQUIRE(a.confirmed_unix_ms == b.confirmed_unix_ms);
  REQUIRE(a.revisions.size() == b.revisions.size());
  for (size_t i = 0; i < a.revisions.size(); ++i) {
    const RecordedRevision& x = a.revisions[i];
    const RecordedRevision& y = b.revisions[i];
    REQUIRE(x.revision == y.revision);
    REQUIRE(x.received_unix_ms == y.received_unix_ms);
    REQUIRE(x.events.size() == y.events.size());
    for (size_t j = 0; j < x.events.size(); ++j) {
      const EtcdEvent& e = x.events[j];
      const EtcdEvent& f = y.events[j];
      REQUIRE(e.is_delete == f.is_delete);
      REQUIRE(e.kv.key == f.kv.key);
      REQUIRE(e.kv.value == f.kv.value);
      REQUIRE(e.kv.lease == f.kv.lease);
      REQUIRE(e.kv.create_revision == f.kv.create_revision);
      REQUIRE(e.kv.mod_revision == f.kv.mod_revision);
      REQUIRE(e.kv.version == f.kv.version);
    }
  }
}

// A rule broken: Encode refuses it as invalid input, Decode (of the same, well hashed) as corrupt.
template <typename Break>
void RequireRule(Break&& change, const std::string& message) {
  Increment inc = Sample(10, 12);
  change(inc);
  RequireError([&] { EncodeIncrement(inc); }, ErrorKind::kInvalidInput, message);
  RequireError([&] { DecodeIncrement(WithSha(RawBody(inc))); }, ErrorKind::kCorrupt, message);
}

IncrementName Name(std::string base, int64_t first, int64_t last, int64_t confirmed) {
  return {std::move(base), first, last, confirmed, false, false};
}

}  // namespace

TEST_CASE("increments round trip binary keys and values, deletes, many revisions", "[increment]") {
  Increment inc = Sample(100, 2099);
  inc.revisions[0].events = {Put(std::string("\0k\xff", 3), std::string("\0\0", 2), 100, 7),
                             Put("/empty", "", 100), Delete("/gone", 100)};
  inc.revisions[5].events.push_back(Delete(std::string(1000, 'x'), 105));
  inc.revisions[6].received_unix_ms = inc.revisions[5].received_unix_ms;  // equal times are fine
  inc.base = "b";
  const std::string bytes = EncodeIncrement(inc);
  REQUIRE(bytes == WithSha(RawBody(inc)));  // the layout, exactly
  REQUIRE(bytes.substr(0, 8) == "K3SINC1\n");
  RequireSame(DecodeIncrement(bytes), inc);

  Increment one = Sample(1, 1);
  one.base = std::string(255, 'b');
  one.confirmed_unix_ms = one.revisions[0].received_unix_ms;  // confirmed when received
  RequireSame(DecodeIncrement(EncodeIncrement(one)), one);
}

TEST_CASE("increments that break a rule are refused both ways", "[increment]") {
  RequireRule([](Increment& i) { i.base.clear(); }, "increment: empty base name");
  RequireRule([](Increment& i) { i.base = std::string(256, 'b'); }, "base name of 256 bytes");
  RequireRule([](Increment& i) { i.revisions.clear(); }, "increment: no revisions");
  RequireRule([](Increment& i) { i.first_revision = 9; }, "not its first revision 9");
  RequireRule([](Increment& i) { i.last_revision = 13; }, "not its last revision 13");
  RequireRule([](Increment& i) { i.revisions.erase(i.revisions.begin() + 1); },
              "increment: revision 12 follows 10");
  RequireRule([](Increment& i) { i.revisions[1].events.clear(); }, "revision 11 has no events");
  RequireRule([](Increment& i) { i.revisions[2].events[0].kv.mod_revision = 11; },
              "revision 12 has an event of revision 11");
  RequireRule([](Increment& i) { i.revisions[2].received_unix_ms -= 5000; },
              "revision 12 was received before revision 11");
  RequireRule([](Increment& i) { i.confirmed_unix_ms = i.revisions[2].received_unix_ms - 1; },
              "before its last revision was received");
  RequireRule([](Increment& i) { i = Sample(0, 2); }, "first revision 0 is below 1");
}

TEST_CASE("damaged increment files are corrupt", "[increment]") {
  const Increment inc = Sample(5, 6);
  const std::string bytes = EncodeIncrement(inc);

  SECTION("a flipped byte in the data or the hash") {
    // The value "v" of revision 6 and the last byte of the hash.
    for (size_t at : {bytes.rfind('v'), bytes.size() - 1}) {
      std::string bad = bytes;
      bad[at] ^= 0x01;
      RequireError([&] { DecodeIncrement(bad); }, ErrorKind::kCorrupt,
                   "increment: SHA-256 mismatch");
    }
  }
  SECTION("any flipped bit anywhere") {
    for (size_t at = 0; at < bytes.size(); ++at) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string bad = bytes;
        bad[at] ^= static_cast<char>(1 << bit);
        RequireError([&] { DecodeIncrement(bad); }, ErrorKind::kCorrupt, "increment: ");
      }
    }
  }
  SECTION("truncated at every length") {
    for (size_t n = 0; n < bytes.size(); ++n) {
      INFO("length " << n);
      RequireError([&] { DecodeIncrement(std::string_view(bytes).substr(0, n)); },
                   ErrorKind::kCorrupt, "increment: ");
    }
    RequireError([&] { DecodeIncrement(bytes.substr(0, bytes.size() - 1)); }, ErrorKind::kCorrupt,
                 "increment: truncated at byte " + std::to_string(bytes.size() - 1));
    RequireError([&] { DecodeIncrement("K3SI"); }, ErrorKind::kCorrupt,
                 "increment: truncated at byte 4");
  }
  SECTION("bad magic, trailing bytes, bad event type") {
    RequireError([&] { DecodeIncrement("K3SINC2\n" + bytes.substr(8)); }, ErrorKind::kCorrupt,
                 "increment: bad magic");
    RequireError([&] { DecodeIncrement(bytes + "xy"); }, ErrorKind::kCorrupt,
                 "increment: 2 bytes after the SHA-256");
    std::string body = RawBody(inc);
    const size_t type_at = 8 + 4 + inc.base.size() + 8 * 4 + 8 + 8 + 4;
    REQUIRE(body[type_at] == 0);
    body[type_at] = 2;
    RequireError([&] { DecodeIncrement(WithSha(body)); }, ErrorKind::kCorrupt,
                 "increment: event type 2 at byte");
  }
  SECTION("counts and lengths past the end allocate nothing") {
    std::string body = "K3SINC1\n";
    Str(body, "b");
    Le(body, 1, 8);
    Le(body, 1, 8);
    Le(body, 0, 8);
    std::string huge = body;
    Le(huge, ~uint64_t{0}, 8);
    RequireError([&] { DecodeIncrement(WithSha(huge)); }, ErrorKind::kCorrupt,
                 "increment: 18446744073709551615 revisions at byte");
    std::string events = body;
    Le(events, 1, 8);
    Le(events, 1, 8);
    Le(events, 0, 8);
    Le(events, 0xffffffff, 4);
    events += std::string(64, '\0');  // room for the one revision, not for its events
    RequireError([&] { DecodeIncrement(WithSha(events)); }, ErrorKind::kCorrupt,
                 "increment: 4294967295 events at byte");
    std::string key = "K3SINC1\n";
    Le(key, 0xfffffff0, 4);
    RequireError([&] { DecodeIncrement(WithSha(key)); }, ErrorKind::kCorrupt,
                 "increment: base name of 4294967280 bytes at byte 8 runs past the end");
  }
}

TEST_CASE("increment names round trip and parse from the right", "[increment]") {
  IncrementName name{"etcd-snapshot-node-1-1733.zip", 101, 250, 1796000300, false, false};
  REQUIRE(FormatIncrementName(name) == "etcd-snapshot-node-1-1733.zip.101-250-1796000300.inc");
  for (bool compressed : {false, true}) {
    for (bool encrypted : {false, true}) {
      name.compressed = compressed;
      name.encrypted = encrypted;
      const std::string text = FormatIncrementName(name);
      IncrementName parsed;
      REQUIRE(ParseIncrementName(text, parsed));
      REQUIRE(parsed.base == name.base);
      REQUIRE(parsed.first_revision == 101);
      REQUIRE(parsed.last_revision == 250);
      REQUIRE(parsed.confirmed_unix == 1796000300);
      REQUIRE(parsed.compressed == compressed);
      REQUIRE(parsed.encrypted == encrypted);
    }
  }
  IncrementName parsed;
  REQUIRE(ParseIncrementName("a.1-2-3.inc.4-4-0.inc.zst.age", parsed));
  REQUIRE(parsed.base == "a.1-2-3.inc");
  REQUIRE(parsed.first_revision == 4);
  REQUIRE(parsed.confirmed_unix == 0);
  REQUIRE(ParseIncrementName("x.9223372036854775807-9223372036854775807-1.inc", parsed));
}

TEST_CASE("names that are not increments' are rejected untouched", "[increment]") {
  const IncrementName before{"keep", 1, 2, 3, true, true};
  for (const char* text : {"etcd-snapshot-node-1-1733.zip",
                           "etcd-snapshot-node-1-1733.zip.zst.age",
                           ".1-2-3.inc",
                           "b.1-2-3",
                           "b.1-2-3.inc.age.zst",
                           "b.1-2-3.zst",
                           "b.1-2.inc",
                           "b.1-2-3-4.inc",
                           "b.0-2-3.inc",
                           "b.3-2-3.inc",
                           "b.+1-2-3.inc",
                           "b.-1-2-3.inc",
                           "b.01-2-3.inc",
                           "b.1-2-03.inc",
                           "b.1--3.inc",
                           "b.1-2-.inc",
                           "b.1- 2-3.inc",
                           "b1-2-3.inc",
                           "1-2-3.inc",
                           "b.1-99999999999999999999-3.inc",
                           "b.1-2-3.inc ",
                           "b.1-2-3.INC",
                           ""}) {
    INFO(text);
    IncrementName out = before;
    REQUIRE_FALSE(ParseIncrementName(text, out));
    REQUIRE(out.base == "keep");
    REQUIRE(out.first_revision == 1);
    REQUIRE(out.compressed);
  }
}

TEST_CASE("a chain is the increments continuing its base without a gap", "[increment]") {
  const std::string base = "etcd-snapshot-n1-1733";
  SECTION("no increments: the base alone") {
    const ChainWindow w = ContiguousChain(base, 100, 1796000000, {Name("other", 101, 200, 5)});
    REQUIRE(w.base == base);
    REQUIRE(w.first_revision == 100);
    REQUIRE(w.last_revision == 100);
    REQUIRE(w.first_unix == 1796000000);
    REQUIRE(w.last_unix == 1796000000);
    REQUIRE(w.increments.empty());
  }
  SECTION("stops at the first gap, whatever the order given") {
    const ChainWindow w =
        ContiguousChain(base, 100, 1796000000,
                        {Name(base, 151, 160, 1796000160), Name(base, 101, 150, 1796000150),
                         Name("other", 161, 170, 1796000170), Name(base, 162, 170, 1796000170),
                         Name(base, 99, 100, 1796000100)});
    REQUIRE(w.last_revision == 160);
    REQUIRE(w.last_unix == 1796000160);
    REQUIRE(w.increments.size() == 2);
    REQUIRE(w.increments[0].first_revision == 101);
    REQUIRE(w.increments[1].first_revision == 151);
  }
  SECTION("of two starting together, the one reaching further; ties: confirmed later") {
    const ChainWindow w =
        ContiguousChain(base, 100, 1796000000,
                        {Name(base, 101, 120, 1796000120), Name(base, 101, 140, 1796000140),
                         Name(base, 141, 150, 1796000150), Name(base, 141, 150, 1796000155),
                         Name(base, 121, 200, 1796000200)});
    REQUIRE(w.increments.size() == 2);
    REQUIRE(w.increments[0].last_revision == 140);
    REQUIRE(w.last_revision == 150);
    REQUIRE(w.last_unix == 1796000155);
  }
  SECTION("a range ending before it starts is ignored") {
    const ChainWindow w = ContiguousChain(base, 100, 5, {Name(base, 101, 100, 6)});
    REQUIRE(w.increments.empty());
    REQUIRE(w.last_revision == 100);
  }
}

TEST_CASE("restore targets within a window", "[increment]") {
  ChainWindow w;
  w.base = "etcd-snapshot-n1-1733";
  w.first_revision = 100;
  w.first_unix = 1796634000;  // 2026-12-07T09:00:00Z
  w.last_revision = 250;
  w.last_unix = 1796634300;  // 2026-12-07T09:05:00Z
  const std::string window =
      "etcd-snapshot-n1-1733's recoverable window: revision 100 (2026-12-07T09:00:00Z) to "
      "revision 250 (2026-12-07T09:05:00Z)";

  for (int64_t r : {100, 101, 250}) CheckTargetInWindow(w, {r, std::nullopt});
  for (int64_t ms : {1796634000000, 1796634123456, 1796634300000})
    CheckTargetInWindow(w, {std::nullopt, ms});
  CheckTargetInWindow(w, {});

  RequireError(
      [&] {
        CheckTargetInWindow(w, {99, std::nullopt});
      },
      ErrorKind::kInvalidInput, "--to-revision 99 is before the start of " + window);
  RequireError(
      [&] {
        CheckTargetInWindow(w, {251, std::nullopt});
      },
      ErrorKind::kInvalidInput, "--to-revision 251 is past the end of " + window);
  RequireError(
      [&] {
        CheckTargetInWindow(w, {std::nullopt, 1796637600000});
      },
      ErrorKind::kInvalidInput, "--to-time 2026-12-07T10:00:00Z is past the end of " + window);
  RequireError(
      [&] {
        CheckTargetInWindow(w, {std::nullopt, 1796634300001});
      },
      ErrorKind::kInvalidInput, "--to-time 2026-12-07T09:05:00.001Z is past the end");
  RequireError(
      [&] {
        CheckTargetInWindow(w, {std::nullopt, 1796633999999});
      },
      ErrorKind::kInvalidInput,
      "--to-time 2026-12-07T08:59:59.999Z is before the start of " + window);
  RequireError(
      [&] {
        CheckTargetInWindow(w, {150, 1796634000000});
      },
      ErrorKind::kInvalidInput, "not both");

  const RecordedRevision r{150, 1796634100000, {}};
  REQUIRE(WithinTarget({150, std::nullopt}, r));
  REQUIRE_FALSE(WithinTarget({149, std::nullopt}, r));
  REQUIRE(WithinTarget({std::nullopt, 1796634100000}, r));
  REQUIRE_FALSE(WithinTarget({std::nullopt, 1796634099999}, r));
  REQUIRE(WithinTarget({}, r));

  REQUIRE(DescribeTarget({42, std::nullopt}) == "revision 42");
  REQUIRE(DescribeTarget({std::nullopt, 1796637600000}) == "2026-12-07T10:00:00Z");
  REQUIRE(DescribeTarget({std::nullopt, 1796637600050}) == "2026-12-07T10:00:00.050Z");
  REQUIRE(DescribeTarget({std::nullopt, -1}) == "1969-12-31T23:59:59.999Z");
}
