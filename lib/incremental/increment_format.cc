// The increment file and name formats. Decoding reads the structure before the SHA-256 (so a cut
// file reads as truncated) with every count and length bounded by the bytes left: fuzz-safe.
#include "incremental/increment_format.h"

#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

#include "core/digest.h"
#include "core/error.h"

namespace snapd {
namespace {

constexpr std::string_view kMagic = "K3SINC1\n";
constexpr size_t kMaxBaseLength = 255;
// The fewest bytes a revision and an event take: what a count is checked against.
constexpr size_t kMinRevisionBytes = 8 + 8 + 4;
constexpr size_t kMinEventBytes = 1 + 4 + 4 + 8 * 4;

// What breaks the format's rules, or "" when nothing does: one check for both directions.
std::string BrokenRule(const Increment& inc) {
  if (inc.base.empty()) return "increment: empty base name";
  if (inc.base.size() > kMaxBaseLength)
    return "increment: base name of " + std::to_string(inc.base.size()) + " bytes (at most 255)";
  if (inc.revisions.empty()) return "increment: no revisions";
  if (inc.first_revision < 1)
    return "increment: first revision " + std::to_string(inc.first_revision) + " is below 1";
  if (inc.revisions.front().revision != inc.first_revision)
    return "increment: starts at revision " + std::to_string(inc.revisions.front().revision) +
           ", not its first revision " + std::to_string(inc.first_revision);
  for (size_t i = 0; i < inc.revisions.size(); ++i) {
    const RecordedRevision& r = inc.revisions[i];
    const std::string at = "revision " + std::to_string(r.revision);
    if (i > 0) {
      const RecordedRevision& previous = inc.revisions[i - 1];
      // Written so that revision + 1 cannot overflow.
      if (previous.revision == std::numeric_limits<int64_t>::max() ||
          r.revision != previous.revision + 1)
        return "increment: " + at + " follows " + std::to_string(previous.revision);
      if (r.received_unix_ms < previous.received_unix_ms)
        return "increment: " + at + " was received before revision " +
               std::to_string(previous.revision);
    }
    if (r.events.empty()) return "increment: " + at + " has no events";
    for (const EtcdEvent& event : r.events)
      if (event.kv.mod_revision != r.revision)
        return "increment: " + at + " has an event of revision " +
               std::to_string(event.kv.mod_revision);
  }
  if (inc.revisions.back().revision != inc.last_revision)
    return "increment: ends at revision " + std::to_string(inc.revisions.back().revision) +
           ", not its last revision " + std::to_string(inc.last_revision);
  if (inc.confirmed_unix_ms < inc.revisions.back().received_unix_ms)
    return "increment: confirmed at " + std::to_string(inc.confirmed_unix_ms) +
           " ms, before its last revision was received at " +
           std::to_string(inc.revisions.back().received_unix_ms) + " ms";
  return "";
}

void PutLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}
void PutI64(std::string& out, int64_t value) {
  PutLittleEndian(out, static_cast<uint64_t>(value), 8);
}
void PutBytes(std::string& out, std::string_view bytes) {
  PutLittleEndian(out, bytes.size(), 4);
  out.append(bytes);
}

// Reads fields front to back; every read is bounded by the end of `bytes_`.
class Reader {
 public:
  Reader(std::string_view bytes, size_t start) : bytes_(bytes), pos_(start) {}
  size_t position() const { return pos_; }
  size_t left() const { return bytes_.size() - pos_; }

  uint64_t Fixed(int size) {
    if (left() < static_cast<size_t>(size))
      throw Error::Corrupt("increment: truncated at byte " + std::to_string(bytes_.size()));
    uint64_t value = 0;
    for (int i = 0; i < size; ++i)
      value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes_[pos_ + i])) << (8 * i);
    pos_ += size;
    return value;
  }
  int64_t I64() { return static_cast<int64_t>(Fixed(8)); }
  std::string Bytes(const char* what) {
    const size_t start = pos_;
    const uint64_t length = Fixed(4);
    if (length > left())
      throw Error::Corrupt("increment: " + std::string(what) + " of " + std::to_string(length) +
                           " bytes at byte " + std::to_string(start) + " runs past the end");
    std::string out(bytes_.substr(pos_, length));
    pos_ += length;
    return out;
  }
  // A count of items of at least `min_bytes` each: more than the bytes left can hold is corrupt.
  uint64_t Count(int size, size_t min_bytes, const char* what) {
    const size_t start = pos_;
    const uint64_t count = Fixed(size);
    if (count > left() / min_bytes)
      throw Error::Corrupt("increment: " + std::to_string(count) + " " + what + " at byte " +
                           std::to_string(start) + " run past the end");
    return count;
  }

 private:
  std::string_view bytes_;
  size_t pos_;
};

EtcdEvent ReadEvent(Reader& in) {
  EtcdEvent event;
  const size_t at = in.position();
  const uint64_t type = in.Fixed(1);
  if (type > 1)
    throw Error::Corrupt("increment: event type " + std::to_string(type) + " at byte " +
                         std::to_string(at));
  event.is_delete = type == 1;
  event.kv.key = in.Bytes("key");
  event.kv.value = in.Bytes("value");
  event.kv.lease = in.I64();
  event.kv.create_revision = in.I64();
  event.kv.mod_revision = in.I64();
  event.kv.version = in.I64();
  return event;
}

}  // namespace

std::string EncodeIncrement(const Increment& increment) {
  if (std::string broken = BrokenRule(increment); !broken.empty())
    throw Error::InvalidInput(broken);
  std::string out(kMagic);
  PutBytes(out, increment.base);
  PutI64(out, increment.first_revision);
  PutI64(out, increment.last_revision);
  PutI64(out, increment.confirmed_unix_ms);
  PutLittleEndian(out, increment.revisions.size(), 8);
  for (const RecordedRevision& revision : increment.revisions) {
    PutI64(out, revision.revision);
    PutI64(out, revision.received_unix_ms);
    PutLittleEndian(out, revision.events.size(), 4);
    for (const EtcdEvent& event : revision.events) {
      out.push_back(event.is_delete ? 1 : 0);
      PutBytes(out, event.kv.key);
      PutBytes(out, event.kv.value);
      PutI64(out, event.kv.lease);
      PutI64(out, event.kv.create_revision);
      PutI64(out, event.kv.mod_revision);
      PutI64(out, event.kv.version);
    }
  }
  const Sha256Digest digest = Sha256::Of(out);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

Increment DecodeIncrement(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    if (bytes.size() < kMagic.size() && kMagic.substr(0, bytes.size()) == bytes)
      throw Error::Corrupt("increment: truncated at byte " + std::to_string(bytes.size()));
    throw Error::Corrupt("increment: bad magic (not an increment file)");
  }
  Reader in(bytes, kMagic.size());
  Increment increment;
  increment.base = in.Bytes("base name");
  increment.first_revision = in.I64();
  increment.last_revision = in.I64();
  increment.confirmed_unix_ms = in.I64();
  const uint64_t revisions = in.Count(8, kMinRevisionBytes + kMinEventBytes, "revisions");
  increment.revisions.reserve(revisions);
  for (uint64_t r = 0; r < revisions; ++r) {
    RecordedRevision& revision = increment.revisions.emplace_back();
    revision.revision = in.I64();
    revision.received_unix_ms = in.I64();
    const uint64_t events = in.Count(4, kMinEventBytes, "events");
    revision.events.reserve(events);
    for (uint64_t e = 0; e < events; ++e) revision.events.push_back(ReadEvent(in));
  }
  const size_t body = in.position();
  if (in.left() < Sha256Digest().size())
    throw Error::Corrupt("increment: truncated at byte " + std::to_string(bytes.size()));
  if (in.left() > Sha256Digest().size())
    throw Error::Corrupt("increment: " + std::to_string(in.left() - Sha256Digest().size()) +
                         " bytes after the SHA-256");
  const Sha256Digest digest = Sha256::Of(bytes.substr(0, body));
  if (std::memcmp(digest.data(), bytes.data() + body, digest.size()) != 0)
    throw Error::Corrupt("increment: SHA-256 mismatch");
  if (std::string broken = BrokenRule(increment); !broken.empty()) throw Error::Corrupt(broken);
  return increment;
}

namespace {

constexpr std::string_view kIncSuffix = ".inc";
constexpr std::string_view kZstSuffix = ".zst";
constexpr std::string_view kAgeSuffix = ".age";

bool CutSuffix(std::string_view& text, std::string_view suffix) {
  if (!text.ends_with(suffix)) return false;
  text.remove_suffix(suffix.size());
  return true;
}

// Plain decimal digits, no sign and no leading zero, so that a parsed name formats back to
// itself.
bool ParseDecimal(std::string_view text, int64_t& out) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string FormatIncrementName(const IncrementName& name) {
  std::string out = name.base + "." + std::to_string(name.first_revision) + "-" +
                    std::to_string(name.last_revision) + "-" + std::to_string(name.confirmed_unix);
  out += kIncSuffix;
  if (name.compressed) out += kZstSuffix;
  if (name.encrypted) out += kAgeSuffix;
  return out;
}

bool ParseIncrementName(std::string_view text, IncrementName& out) {
  // From the right: base names hold dots and dashes of their own.
  IncrementName name;
  name.encrypted = CutSuffix(text, kAgeSuffix);
  name.compressed = CutSuffix(text, kZstSuffix);
  if (!CutSuffix(text, kIncSuffix)) return false;
  const size_t dot = text.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  name.base = std::string(text.substr(0, dot));
  const std::string_view numbers = text.substr(dot + 1);
  const size_t dash1 = numbers.find('-');
  const size_t dash2 = numbers.rfind('-');
  if (dash1 == std::string_view::npos || dash1 == dash2) return false;
  if (!ParseDecimal(numbers.substr(0, dash1), name.first_revision) ||
      !ParseDecimal(numbers.substr(dash1 + 1, dash2 - dash1 - 1), name.last_revision) ||
      !ParseDecimal(numbers.substr(dash2 + 1), name.confirmed_unix))
    return false;
  if (name.first_revision < 1 || name.last_revision < name.first_revision) return false;
  out = std::move(name);
  return true;
}

}  // namespace snapd
