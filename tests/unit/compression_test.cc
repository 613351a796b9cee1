// Tests of the compression stages in lib/pipeline: zip (k3s layout, libarchive) and zstd
// encoders and decoders, against each other and against fixtures made by real tools
// (tests/unit/data/codec/gen.py).
#include <zlib.h>
#include <zstd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "pipeline/zip_central_directory.h"
#include "pipeline/zip_compress_sink.h"
#include "pipeline/zip_decompress_source.h"
#include "pipeline/zstd_compress_sink.h"
#include "pipeline/zstd_decompress_source.h"
#include "require_error.h"

using namespace snapd;

namespace {

const std::string kEntryName = "etcd-snapshot-node-a.example-1700000000";
constexpr int64_t kMtime = 1700000000;

std::string ReadFixture(const std::string& name) {
  const std::string path = std::string(SNAPD_SOURCE_ROOT) + "/tests/unit/data/codec/" + name;
  std::ifstream file(path, std::ios::binary);
  INFO("fixture " << path);
  REQUIRE(file.good());
  return std::string(std::istreambuf_iterator<char>(file), {});
}

class StringSink : public ByteSink {
 public:
  void Write(std::string_view chunk) override { data.append(chunk); }
  std::string data;
};

// Serves `data` at most `piece` bytes per Read, like a network stream.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data, size_t piece = SIZE_MAX)
      : data_(std::move(data)), piece_(piece) {}
  size_t Read(char* buffer, size_t size) override {
    const size_t n = std::min({size, piece_, data_.size() - position_});
    std::copy_n(data_.data() + position_, n, buffer);
    position_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t piece_;
  size_t position_ = 0;
};

// Serves the first `good` bytes of `data`, then throws a transient error.
class FailingSource : public ByteSource {
 public:
  FailingSource(std::string data, size_t good) : source_(data.substr(0, good)), left_(good) {}
  size_t Read(char* buffer, size_t size) override {
    if (left_ == 0) throw Error::Transient("download: connection reset by peer");
    const size_t n = source_.Read(buffer, std::min(size, left_));
    left_ -= n;
    return n;
  }

 private:
  StringSource source_;
  size_t left_;
};

// Accepts `limit` bytes, then throws a permanent error.
class FailingSink : public ByteSink {
 public:
  explicit FailingSink(size_t limit) : left_(limit) {}
  void Write(std::string_view chunk) override {
    if (chunk.size() > left_) throw Error::Permanent("snapshot file: no space left on device");
    left_ -= chunk.size();
  }

 private:
  size_t left_;
};

// Alternating runs of repetitive key/value text and pseudo-random bytes, so the compressors
// use both their matching and their stored/raw paths.
std::string MixedData(size_t size, uint32_t seed) {
  std::string out;
  out.reserve(size);
  uint32_t x = seed * 2654435761u + 1;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  for (int run = 0; out.size() < size; ++run) {
    if (run % 2 == 0) {
      for (int i = 0; i < 200 && out.size() < size; ++i) {
        out += "/registry/leases/kube-node-lease/node-" + std::to_string(next() % 50) + "\n";
      }
    } else {
      const size_t length = 1000 + next() % 20000;
      for (size_t i = 0; i < length && out.size() < size; ++i) out += static_cast<char>(next());
    }
  }
  out.resize(size);
  return out;
}

void WriteInOddChunks(EncodingSink& sink, std::string_view data) {
  static constexpr size_t kChunks[] = {1, 7, 4093, 65537, 13, 300007, 2};
  for (size_t i = 0; !data.empty(); ++i) {
    const size_t n = std::min(data.size(), kChunks[i % std::size(kChunks)]);
    sink.Write(data.substr(0, n));
    data.remove_prefix(n);
  }
  sink.Write("");
  sink.Finish();
}

std::string ReadInOddSizes(ByteSource& source) {
  static constexpr size_t kSizes[] = {1, 5, 8191, 70001, 3, 262147};
  std::string out;
  std::vector<char> buffer(262147);
  for (size_t i = 0;; ++i) {
    const size_t n = source.Read(buffer.data(), kSizes[i % std::size(kSizes)]);
    if (n == 0) break;
    out.append(buffer.data(), n);
  }
  // The end stays the end.
  CHECK(source.Read(buffer.data(), buffer.size()) == 0);
  return out;
}

// One format's encoder and decoder, so checks common to both run over both.
struct Codec {
  std::string name;
  std::function<std::unique_ptr<EncodingSink>(ByteSink&)> encoder;
  std::function<std::unique_ptr<ByteSource>(ByteSource&)> decoder;

  std::string Encode(std::string_view data) const {
    StringSink sink;
    auto stage = encoder(sink);
    WriteInOddChunks(*stage, data);
    return sink.data;
  }
  std::string Decode(std::string encoded, size_t piece = SIZE_MAX) const {
    StringSource source(std::move(encoded), piece);
    auto stage = decoder(source);
    return ReadInOddSizes(*stage);
  }
};

const Codec kZip{
    "zip", [](ByteSink& out) { return std::make_unique<ZipCompressSink>(out, kEntryName, kMtime); },
    [](ByteSource& in) { return std::make_unique<ZipDecompressSource>(in); }};
const Codec kZstd{"zstd", [](ByteSink& out) { return std::make_unique<ZstdCompressSink>(out, 3); },
                  [](ByteSource& in) { return std::make_unique<ZstdDecompressSource>(in); }};
const Codec* const kCodecs[] = {&kZip, &kZstd};

uint16_t Le16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(s.at(at)) |
                               static_cast<unsigned char>(s.at(at + 1)) << 8);
}

uint32_t Le32(std::string_view s, size_t at) {
  return Le16(s, at) | static_cast<uint32_t>(Le16(s, at + 2)) << 16;
}

// Where the parts of a one-entry zip without archive comment are.
struct ZipLayout {
  size_t data_start = 0;  // after the local header
  size_t directory = 0;   // central directory offset
  size_t end_record = 0;  // end of central directory record
};

ZipLayout LayoutOf(const std::string& zip) {
  ZipLayout layout;
  REQUIRE(zip.size() >= 22);
  layout.end_record = zip.size() - 22;
  REQUIRE(zip.compare(layout.end_record, 4, "PK\5\6") == 0);
  layout.directory = Le32(zip, layout.end_record + 16);
  REQUIRE(zip.compare(layout.directory, 4, "PK\1\2") == 0);
  REQUIRE(zip.compare(0, 4, "PK\3\4") == 0);
  layout.data_start = 30 + Le16(zip, 26) + Le16(zip, 28);
  return layout;
}

}  // namespace

TEST_CASE("zip and zstd round-trip any size written and read in odd pieces", "[codec]") {
  for (const Codec* codec : kCodecs) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{64 * 1024}, size_t{3 * 1024 * 1024 + 4099}}) {
      INFO(codec->name << " size " << size);
      const std::string data = MixedData(size, static_cast<uint32_t>(size));
      const std::string encoded = codec->Encode(data);
      CHECK(codec->Decode(encoded, 4097) == data);
      if (size > 64 * 1024) CHECK(encoded.size() < data.size());
    }
  }
}

TEST_CASE("zip output is one streamed Deflate entry named after the snapshot", "[codec]") {
  const std::string data = MixedData(200000, 1);
  const std::string zip = kZip.Encode(data);
  const ZipLayout layout = LayoutOf(zip);

  // Local header: data descriptor flag, Deflate, the name, no directories.
  CHECK((Le16(zip, 6) & 0x8) != 0);
  CHECK(Le16(zip, 8) == 8);
  CHECK(zip.substr(30, Le16(zip, 26)) == kEntryName);

  // End record and central directory: exactly one entry, mode 0600, CRC and size of the data.
  CHECK(Le16(zip, layout.end_record + 8) == 1);
  CHECK(Le16(zip, layout.end_record + 10) == 1);
  const size_t cd = layout.directory;
  CHECK(Le16(zip, cd + 10) == 8);
  CHECK(Le32(zip, cd + 16) ==
        ::crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  CHECK(Le32(zip, cd + 24) == data.size());
  CHECK(Le32(zip, cd + 38) >> 16 == 0100600);
  CHECK(Le32(zip, cd + 42) == 0);
  const size_t name_length = Le16(zip, cd + 28);
  CHECK(zip.substr(cd + 46, name_length) == kEntryName);
  CHECK(cd + 46 + name_length + Le16(zip, cd + 30) + Le16(zip, cd + 32) == layout.end_record);

  // The extended timestamp carries the given mtime.
  const std::string extra = zip.substr(cd + 46 + name_length, Le16(zip, cd + 30));
  bool found_mtime = false;
  for (size_t at = 0; at + 4 <= extra.size(); at += 4 + Le16(extra, at + 2)) {
    if (Le16(extra, at) == 0x5455) {
      REQUIRE((extra.at(at + 4) & 1) != 0);
      CHECK(Le32(extra, at + 5) == kMtime);
      found_mtime = true;
    }
  }
  CHECK(found_mtime);

  // The decoder reports the same single name, and only once it has read.
  StringSource source(zip);
  ZipDecompressSource decoder(source);
  CHECK(decoder.entry_name().empty());
  CHECK(ReadInOddSizes(decoder) == data);
  CHECK(decoder.entry_name() == kEntryName);
}

TEST_CASE("zip encoder refuses entry names with directories", "[codec]") {
  StringSink sink;
  RequireError([&] { ZipCompressSink(sink, "", kMtime); }, ErrorKind::kInvalidInput, "zip");
  RequireError([&] { ZipCompressSink(sink, "snapshots/x", kMtime); }, ErrorKind::kInvalidInput,
               "snapshots/x");
  CHECK(sink.data.empty());
}

TEST_CASE("fixtures from python (k3s layout), Info-ZIP zip and the zstd CLI decode", "[codec]") {
  const std::string content = ReadFixture("content.bin");
  REQUIRE(content.size() > 10000);

  SECTION("python zipfile streamed: data descriptor, sizes 0 in the local header") {
    const std::string zip = ReadFixture("k3s-style.zip");
    REQUIRE((Le16(zip, 6) & 0x8) != 0);
    REQUIRE(Le32(zip, 18) == 0);
    REQUIRE(Le32(zip, 22) == 0);
    for (size_t piece : {size_t{1}, size_t{1000}, SIZE_MAX}) {
      StringSource source(zip, piece);
      ZipDecompressSource decoder(source);
      CHECK(ReadInOddSizes(decoder) == content);
      CHECK(decoder.entry_name() == "etcd-snapshot-node1-1700000000");
    }
  }
  SECTION("python zipfile streamed without compression: the CRC still covers every block") {
    StringSource source(ReadFixture("stored-streamed.zip"));
    ZipDecompressSource decoder(source);
    CHECK(ReadInOddSizes(decoder) == content);
    CHECK(decoder.entry_name() == "etcd-snapshot-node1-1700000002");
  }
  SECTION("Info-ZIP zip: sizes in the local header") {
    StringSource source(ReadFixture("info-zip.zip"));
    ZipDecompressSource decoder(source);
    CHECK(ReadInOddSizes(decoder) == content);
    CHECK(decoder.entry_name() == "on-demand-node1-1700000001");
  }
  SECTION("zstd CLI, level 19") {
    CHECK(kZstd.Decode(ReadFixture("content.zst")) == content);
    CHECK(kZstd.Decode(ReadFixture("content.zst"), 1) == content);
  }
}

TEST_CASE("zip with a second entry or a directory entry is refused", "[codec]") {
  RequireError([] { kZip.Decode(ReadFixture("two-entries.zip")); }, ErrorKind::kCorrupt,
               "more than one entry");
  RequireError([] { kZip.Decode(ReadFixture("with-directory.zip")); }, ErrorKind::kCorrupt,
               "not a regular file");
}

TEST_CASE("zip: a flipped byte never yields wrong data; in the entry data it is corrupt",
          "[codec]") {
  const std::string data = MixedData(30000, 3);
  const std::string zip = kZip.Encode(data);
  const ZipLayout layout = LayoutOf(zip);
  const size_t descriptor = layout.directory - 24;  // libarchive's zip64 data descriptor
  auto flipped = [&zip](size_t at) {
    std::string copy = zip;
    copy[at] = static_cast<char>(copy[at] ^ 0x10);
    return copy;
  };

  int crc_mismatches = 0;
  for (size_t at = 0; at < zip.size(); at += 3) {
    INFO("flipped byte at " << at << " of " << zip.size());
    try {
      const std::string out = kZip.Decode(flipped(at));
      // Some header bits (times, attributes, the descriptor's upper size bytes) are unused
      // by every reader; a flip there is harmless. The compressed data is covered by the CRC.
      CHECK_FALSE((at >= layout.data_start && at < descriptor));
      CHECK(out == data);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kCorrupt);
      if (std::string(e.what()).find("CRC mismatch in entry " + kEntryName) != std::string::npos) {
        ++crc_mismatches;
      }
    }
  }
  CHECK(crc_mismatches > 0);  // the random runs are stored blocks: only the CRC sees a flip

  // Signatures, descriptor CRC and size, and the directory's CRC, name and entry count,
  // which k3s's reader relies on.
  for (size_t at : {size_t{0}, descriptor, descriptor + 4, descriptor + 8, descriptor + 16,
                    layout.directory, layout.end_record, layout.end_record + 10}) {
    RequireError([&] { kZip.Decode(flipped(at)); }, ErrorKind::kCorrupt, "zip: ");
  }
  RequireError([&] { kZip.Decode(flipped(layout.directory + 16)); }, ErrorKind::kCorrupt,
               "CRC mismatch in entry " + kEntryName);
  RequireError([&] { kZip.Decode(flipped(layout.directory + 46)); }, ErrorKind::kCorrupt,
               "central directory names the entry");
  RequireError([&] { kZip.Decode(flipped(30)); }, ErrorKind::kCorrupt, "central directory");
}

TEST_CASE("zstd: a flipped byte never yields wrong data", "[codec]") {
  const std::string data = MixedData(30000, 4);
  const std::string zst = kZstd.Encode(data);
  int checksum_mismatches = 0;
  for (size_t at = 0; at < zst.size(); at += 3) {
    INFO("flipped byte at " << at << " of " << zst.size());
    std::string copy = zst;
    copy[at] = static_cast<char>(copy[at] ^ 0x10);
    try {
      // A few bits are harmless (the frame header's unused bit, a window still large enough).
      const std::string out = kZstd.Decode(copy);
      CHECK(out == data);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kCorrupt);
      CHECK_THAT(e.what(), Catch::StartsWith("zstd: "));
      if (std::string(e.what()).find("checksum mismatch") != std::string::npos) {
        ++checksum_mismatches;
      }
    }
  }
  CHECK(checksum_mismatches > 0);  // the random runs are raw blocks: only the checksum sees it
  for (size_t at : {size_t{0}, size_t{3}, zst.size() - 4, zst.size() - 1}) {
    std::string copy = zst;
    copy[at] = static_cast<char>(copy[at] ^ 1);
    RequireError([&] { kZstd.Decode(copy); }, ErrorKind::kCorrupt, "zstd: ");
  }
  std::string bad_checksum = zst;
  bad_checksum.back() = static_cast<char>(bad_checksum.back() ^ 1);
  RequireError([&] { kZstd.Decode(bad_checksum); }, ErrorKind::kCorrupt, "checksum mismatch");
}

TEST_CASE("a truncated zip or zstd stream is corrupt at every length", "[codec]") {
  const std::string data = MixedData(3000, 5);
  for (const Codec* codec : kCodecs) {
    const std::string encoded = codec->Encode(data);
    REQUIRE(codec->Decode(encoded) == data);
    for (size_t length = 0; length < encoded.size(); ++length) {
      INFO(codec->name << " cut to " << length << " of " << encoded.size());
      RequireError([&] { codec->Decode(encoded.substr(0, length)); }, ErrorKind::kCorrupt,
                   codec->name + ": ");
    }
  }
  const std::string zst = kZstd.Encode(data);
  RequireError([&] { kZstd.Decode(zst.substr(0, zst.size() / 2)); }, ErrorKind::kCorrupt,
               "ends mid-frame");
}

TEST_CASE("input that is not an archive of the format is corrupt", "[codec]") {
  const std::string zip = kZip.Encode("snapshot");
  const std::string zst = kZstd.Encode("snapshot");
  for (const Codec* codec : kCodecs) {
    const std::string other = codec == &kZip ? zst : zip;
    for (const std::string& input :
         {std::string("this is not compressed\n"), MixedData(10000, 6).substr(5000), other}) {
      INFO(codec->name << " given " << input.size() << " bytes");
      RequireError([&] { codec->Decode(input); }, ErrorKind::kCorrupt, codec->name + ": ");
    }
  }
  RequireError([] { kZstd.Decode(kZstd.Encode("x") + "trailing junk"); }, ErrorKind::kCorrupt,
               "zstd: ");
}

TEST_CASE("an error of the underlying source comes out with its kind", "[codec]") {
  const std::string data = MixedData(3 * 1024 * 1024, 7);
  for (const Codec* codec : kCodecs) {
    const std::string encoded = codec->Encode(data);
    // At the start, mid-entry, and (zip) while reading the central directory.
    for (size_t good : {size_t{0}, size_t{100000}, encoded.size() - 10}) {
      INFO(codec->name << " failing after " << good << " bytes");
      RequireError(
          [&] {
            FailingSource source(encoded, good);
            auto decoder = codec->decoder(source);
            ReadInOddSizes(*decoder);
          },
          ErrorKind::kTransient, "connection reset by peer");
    }
  }
}

TEST_CASE("an error of the downstream sink comes out with its kind", "[codec]") {
  const std::string data = MixedData(3 * 1024 * 1024, 8);
  for (const Codec* codec : kCodecs) {
    for (size_t limit : {size_t{0}, size_t{100000}, size_t{1000000}}) {
      INFO(codec->name << " sink full after " << limit << " bytes");
      FailingSink sink(limit);
      auto encoder = codec->encoder(sink);
      RequireError([&] { WriteInOddChunks(*encoder, data); }, ErrorKind::kPermanent,
                   "no space left on device");
      // The stage stays failed rather than writing a broken rest.
      CHECK_THROWS_AS(encoder->Write("more"), Error);
    }
  }
}

TEST_CASE("an encoder destroyed without Finish writes nothing more", "[codec]") {
  const std::string data = MixedData(1024 * 1024, 10);
  for (const Codec* codec : kCodecs) {
    INFO(codec->name);
    StringSink sink;
    size_t before = 0;
    {
      auto encoder = codec->encoder(sink);
      encoder->Write(data);
      before = sink.data.size();
    }
    CHECK(sink.data.size() == before);
    CHECK(sink.data.find("PK\5\6") == std::string::npos);
  }
}

TEST_CASE("zstd: checksummed frames, concatenated frames, bounded window, levels", "[codec]") {
  const std::string first = MixedData(100000, 11);
  const std::string second = MixedData(50000, 12);
  const std::string a = kZstd.Encode(first);
  REQUIRE(a.size() > 5);
  CHECK((static_cast<unsigned char>(a[4]) & 0x04) != 0);  // Content_Checksum_flag
  CHECK(kZstd.Decode(a + kZstd.Encode(second), 777) == first + second);

  for (int level : {1, 19}) {
    StringSink sink;
    ZstdCompressSink encoder(sink, level);
    WriteInOddChunks(encoder, first);
    CHECK(kZstd.Decode(sink.data) == first);
  }
  StringSink sink;
  RequireError([&] { ZstdCompressSink(sink, 0); }, ErrorKind::kInvalidInput, "level 0");
  RequireError([&] { ZstdCompressSink(sink, 20); }, ErrorKind::kInvalidInput, "level 20");

  // A frame declaring a 256 MiB window (as `zstd --long=28` makes) is refused.
  ZSTD_CCtx* context = ZSTD_createCCtx();
  REQUIRE(context != nullptr);
  REQUIRE_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, 28)));
  std::string wide(ZSTD_compressBound(first.size()) + 64, '\0');
  ZSTD_outBuffer output{wide.data(), wide.size(), 0};
  ZSTD_inBuffer input{first.data(), first.size(), 0};
  REQUIRE_FALSE(ZSTD_isError(ZSTD_compressStream2(context, &output, &input, ZSTD_e_continue)));
  size_t remaining = 0;
  do {
    remaining = ZSTD_compressStream2(context, &output, &input, ZSTD_e_end);
    REQUIRE_FALSE(ZSTD_isError(remaining));
  } while (remaining != 0);
  ZSTD_freeCCtx(context);
  wide.resize(output.pos);
  RequireError([&] { kZstd.Decode(wide); }, ErrorKind::kCorrupt, "window");
}

namespace {

void PutLe(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>(value >> (8 * i));
}

// The end of a zip whose entry and directory lie past 4 GiB, laid out as Go's archive/zip
// writes it: 32-bit sizes all ones, a zip64 extra with both sizes and the offset, zip64 end
// record and locator before the classic end record.
std::string Zip64Tail(uint64_t tail_start, bool with_locator) {
  const std::string name = "etcd-snapshot-big-1700000000";
  std::string tail;
  tail += "PK\1\2";
  PutLe(tail, 0x032D, 2);  // made by
  PutLe(tail, 45, 2);      // needed
  PutLe(tail, 0x8, 2);     // flags
  PutLe(tail, 8, 2);       // Deflate
  PutLe(tail, 0, 4);       // time, date
  PutLe(tail, 0xCAFEF00D, 4);
  PutLe(tail, 0xFFFFFFFF, 4);
  PutLe(tail, 0xFFFFFFFF, 4);
  PutLe(tail, name.size(), 2);
  PutLe(tail, 28, 2);  // extra
  PutLe(tail, 0, 2);   // comment
  PutLe(tail, 0, 2);   // disk
  PutLe(tail, 0, 2);   // internal attributes
  PutLe(tail, 0100600u << 16, 4);
  PutLe(tail, 0, 4);  // local header offset
  tail += name;
  PutLe(tail, 1, 2);
  PutLe(tail, 24, 2);
  PutLe(tail, 6'000'000'000, 8);  // uncompressed
  PutLe(tail, 4'900'000'000, 8);  // compressed
  PutLe(tail, 0, 8);              // offset
  const uint64_t directory_size = tail.size();
  const uint64_t record_offset = tail_start + tail.size();
  tail += "PK\6\6";
  PutLe(tail, 44, 8);
  PutLe(tail, 45, 2);
  PutLe(tail, 45, 2);
  PutLe(tail, 0, 8);  // disks
  PutLe(tail, 1, 8);
  PutLe(tail, 1, 8);
  PutLe(tail, directory_size, 8);
  PutLe(tail, tail_start, 8);
  if (with_locator) {
    tail += "PK\6\7";
    PutLe(tail, 0, 4);
    PutLe(tail, record_offset, 8);
    PutLe(tail, 1, 4);
  }
  tail += "PK\5\6";
  PutLe(tail, 0, 4);  // disks
  PutLe(tail, 1, 2);
  PutLe(tail, 1, 2);
  PutLe(tail, directory_size, 4);
  PutLe(tail, 0xFFFFFFFF, 4);
  PutLe(tail, 0, 2);  // comment
  return tail;
}

}  // namespace

TEST_CASE("zip central directory: zip64 sizes and end records past 4 GiB", "[codec]") {
  const uint64_t tail_start = 4'900'000'100;
  const std::string tail = Zip64Tail(tail_start, true);
  // Read from a longer tail too: the directory need not start the bytes kept.
  const std::string kept = MixedData(1000, 13) + tail;
  const ZipCentralEntry entry = ReadSingleCentralEntry(kept, tail_start + tail.size());
  CHECK(entry.name == "etcd-snapshot-big-1700000000");
  CHECK(entry.crc32 == 0xCAFEF00D);
  CHECK(entry.uncompressed_size == 6'000'000'000);
  CHECK(entry.compressed_size == 4'900'000'000);
  CHECK(entry.local_header_offset == 0);

  RequireError([&] { ReadSingleCentralEntry(Zip64Tail(tail_start, false), tail_start + 200); },
               ErrorKind::kCorrupt, "zip64 locator");
  // The directory must end where the end records begin.
  RequireError([&] { ReadSingleCentralEntry(tail, tail_start + 1 + tail.size()); },
               ErrorKind::kCorrupt, "zip: ");
  // Not all of it was kept.
  RequireError([&] { ReadSingleCentralEntry(tail.substr(10), tail_start + tail.size()); },
               ErrorKind::kCorrupt, "too large");
}
