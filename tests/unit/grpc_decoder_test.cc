// Tests of the native gRPC transport's pure parts: protobuf wire reading, gRPC framing and the
// SnapshotResponse sequence, at every split point of the body.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "etcd/grpc_etcd_client.h"
#include "etcd/grpc_snapshot_decoder.h"
#include "etcd/grpc_watch_decoder.h"
#include "etcd/protobuf_wire.h"

namespace snapd {
namespace {

std::string Varint(uint64_t value) {
  std::string out;
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (value != 0);
  return out;
}

std::string VarintField(uint32_t number, uint64_t value) {
  return Varint(uint64_t{number} << 3) + Varint(value);
}

std::string BytesField(uint32_t number, std::string_view bytes) {
  return Varint((uint64_t{number} << 3) | 2) + Varint(bytes.size()) + std::string(bytes);
}

std::string Frame(std::string_view message) {
  std::string out(1, '\0');
  const uint32_t size = static_cast<uint32_t>(message.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((size >> shift) & 0xff);
  return out + std::string(message);
}

// SnapshotResponse as etcd sends it: a header, remaining_bytes, blob (and a version on 3.6).
std::string Response(uint64_t remaining, std::string_view blob) {
  return BytesField(1, VarintField(1, 7) + VarintField(2, 9)) + VarintField(2, remaining) +
         BytesField(3, blob) + BytesField(4, "3.6.0");
}

class StringSink final : public ByteSink {
 public:
  void Write(std::string_view chunk) override { out.append(chunk); }
  std::string out;
};

// A body of `data` in `chunk`-byte blobs plus its trailer, and the snapshot it carries.
std::string Body(const std::string& data, size_t chunk, std::string* snapshot) {
  Sha256Digest trailer = Sha256::Of(data);
  const std::string trailer_bytes(reinterpret_cast<const char*>(trailer.data()), trailer.size());
  std::string body;
  for (size_t pos = 0; pos < data.size(); pos += chunk) {
    const std::string blob = data.substr(pos, chunk);
    body += Frame(Response(data.size() - pos - blob.size(), blob));
  }
  body += Frame(Response(0, trailer_bytes));
  *snapshot = data + trailer_bytes;
  return body;
}

}  // namespace

TEST_CASE("protobuf reader reads every wire type and refuses broken fields", "[grpc]") {
  std::string message = VarintField(1, 300) + BytesField(2, "abc") + Varint((3 << 3) | 1) +
                        std::string("\x01\0\0\0\0\0\0\x80", 8) + Varint((4 << 3) | 5) +
                        std::string("\x2a\0\0\0", 4) + VarintField(5, UINT64_MAX);
  ProtobufReader reader(message);
  ProtobufField f;
  REQUIRE(reader.Next(f));
  CHECK((f.number == 1 && f.wire_type == 0 && f.number_value == 300));
  REQUIRE(reader.Next(f));
  CHECK((f.number == 2 && f.bytes_value == "abc"));
  REQUIRE(reader.Next(f));
  CHECK(f.number_value == 0x8000000000000001ull);
  REQUIRE(reader.Next(f));
  CHECK(f.number_value == 42);
  REQUIRE(reader.Next(f));
  CHECK(f.number_value == UINT64_MAX);
  CHECK_FALSE(reader.Next(f));

  auto fails = [](const std::string& bytes, const std::string& part) {
    RequireError(
        [&] {
          ProtobufReader r(bytes);
          ProtobufField field;
          while (r.Next(field)) {
          }
        },
        ErrorKind::kCorrupt, part);
  };
  fails(BytesField(2, "abcdef").substr(0, 5), "truncated");
  fails(Varint(1 << 3) + std::string(11, '\xff'), "varint");
  fails(Varint(0) + Varint(1), "field number");
  fails(Varint((6 << 3) | 3), "wire type 3");
  fails(Varint((1 << 3) | 1) + "abc", "truncated");
}

TEST_CASE("gRPC snapshot stream decodes at every split point", "[grpc]") {
  std::string data;
  for (int i = 0; i < 2000; ++i) data += static_cast<char>(i * 7 + i / 13);
  std::string snapshot;
  const std::string body = Body(data, 700, &snapshot);
  for (size_t split = 0; split <= body.size(); split += 37) {
    INFO("split " << split);
    StringSink out;
    GrpcSnapshotDecoder decoder(out);
    decoder.Feed(std::string_view(body).substr(0, split));
    decoder.Feed(std::string_view(body).substr(split));
    decoder.Finish();
    CHECK(out.out == snapshot);
    CHECK(decoder.database_size() == data.size());
  }
  // One byte at a time.
  StringSink out;
  GrpcSnapshotDecoder decoder(out);
  for (char c : body) decoder.Feed(std::string_view(&c, 1));
  decoder.Finish();
  CHECK(out.out == snapshot);
}

TEST_CASE("gRPC snapshot stream refuses cuts, bad sequences and compressed frames", "[grpc]") {
  std::string data(1500, 'x');
  std::string snapshot;
  const std::string body = Body(data, 500, &snapshot);
  auto decode = [](std::string_view bytes) {
    StringSink out;
    GrpcSnapshotDecoder decoder(out);
    decoder.Feed(bytes);
    decoder.Finish();
  };
  RequireError([&] { decode(body.substr(0, body.size() - 10)); }, ErrorKind::kTransient,
               "cut inside a message");
  const size_t last_frame = body.size() - Frame(Response(0, std::string(32, 't'))).size();
  RequireError([&] { decode(body.substr(0, last_frame)); }, ErrorKind::kTransient,
               "cut after 1500 of 1500 bytes");
  RequireError([&] { decode(""); }, ErrorKind::kTransient, "before any data");
  RequireError([&] { decode(Frame(Response(10, "abc")) + Frame(Response(5, "abc"))); },
               ErrorKind::kCorrupt, "does not follow");
  RequireError([&] { decode(body + Frame(Response(0, "x"))); }, ErrorKind::kCorrupt,
               "after the SHA-256 trailer");
  std::string compressed = Frame(Response(0, "abc"));
  compressed[0] = 1;
  RequireError([&] { decode(compressed); }, ErrorKind::kCorrupt, "compressed");
  RequireError([&] { decode(std::string("\0\x7f\xff\xff\xff", 5)); }, ErrorKind::kCorrupt,
               "over the");
  RequireError([&] { decode(Frame(Varint((2 << 3) | 4))); }, ErrorKind::kCorrupt, "wire type");
}

TEST_CASE("StatusResponse fields are read by number, unknown ones skipped", "[grpc]") {
  const std::string message = BytesField(1, VarintField(1, 11) + VarintField(2, 0xabcdef)) +
                              BytesField(2, "3.4.23") + VarintField(3, 24608) + VarintField(4, 77) +
                              VarintField(5, 1234) + VarintField(6, 2) + BytesField(8, "an error") +
                              VarintField(10, 1);
  EtcdStatus status = ParseStatusResponse(message);
  CHECK(status.version == "3.4.23");
  CHECK(status.db_size == 24608);
  CHECK(status.leader == 77);
  CHECK(status.raft_index == 1234);
  CHECK(status.member_id == 0xabcdef);
  RequireError([&] { ParseStatusResponse(message.substr(0, message.size() - 1)); },
               ErrorKind::kCorrupt, "truncated");
}

TEST_CASE("watch decoder: responses with events, in pieces; created skipped", "[grpc]") {
  const std::string header = BytesField(1, VarintField(3, 12));
  const std::string event =
      BytesField(11, BytesField(2, BytesField(1, std::string("k\0", 2)) + VarintField(3, 11) +
                                       BytesField(5, std::string("\0v", 2))));
  const std::string body =
      Frame(header + VarintField(3, 1)) + Frame(header + event + event) + Frame(header + event);
  std::vector<EtcdWatchResponse> got;
  GrpcWatchDecoder decoder(11, [&](EtcdWatchResponse&& r) { got.push_back(std::move(r)); });
  for (char c : body) decoder.Feed(std::string_view(&c, 1));  // byte by byte: incremental
  REQUIRE(got.size() == 2);
  CHECK((got[0].header_revision == 12 && got[0].events.size() == 2 && got[1].events.size() == 1));
  CHECK((got[0].events[0].kv.key == std::string("k\0", 2) &&
         got[0].events[0].kv.value == std::string("\0v", 2)));
}

TEST_CASE("watch decoder: a compaction or cancel is permanent; callback errors pass", "[grpc]") {
  auto ignore = [](EtcdWatchResponse&&) {};
  RequireError(
      [&] { GrpcWatchDecoder(3, ignore).Feed(Frame(VarintField(4, 1) + VarintField(5, 9))); },
      ErrorKind::kPermanent, "watch from revision 3: etcd compacted to revision 9");
  RequireError(
      [&] {
        GrpcWatchDecoder(3, ignore).Feed(Frame(VarintField(4, 1) + BytesField(6, "no space")));
      },
      ErrorKind::kPermanent, "cancelled it: no space");
  const std::string event = BytesField(11, BytesField(2, BytesField(1, "k")));
  GrpcWatchDecoder failing(3, [](EtcdWatchResponse&&) { throw std::runtime_error("full"); });
  CHECK_THROWS_WITH(failing.Feed(Frame(event)), "full");
}

}  // namespace snapd
