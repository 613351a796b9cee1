// Tests of lib/etcd/gateway_stream_decoder: etcd 3.4 gateway snapshot streams, split anywhere,
// cut anywhere, or carrying errors, decode to the exact snapshot bytes or fail clearly.
#include <catch2/catch.hpp>

#include "require_error.h"

#include <random>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/encoding.h"
#include "core/error.h"
#include "etcd/gateway_stream_decoder.h"

using namespace snapd;

namespace {

constexpr size_t kBlob = 32 * 1024;
constexpr const char* kNoLeader =
    R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader",)"
    R"("http_status":"Service Unavailable"}})";

class StringSink final : public ByteSink {
 public:
  void Write(std::string_view chunk) override { bytes.append(chunk); }
  std::string bytes;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string Message(uint64_t remaining, std::string_view blob) {
  // As the gateway writes it: 64-bit integers as strings, zero fields left out.
  std::string m = R"({"result":{)";
  if (remaining != 0) m += R"("remaining_bytes":")" + std::to_string(remaining) + R"(",)";
  return m + R"("blob":")" + Base64Encode(blob) + R"("}})" + "\n";
}

// The body etcd's gateway sends for a database `data`: 32 KiB blobs, then the SHA-256.
std::string GatewayStream(const std::string& data, size_t blob = kBlob) {
  std::string stream;
  for (size_t sent = 0; sent < data.size();) {
    size_t n = std::min(blob, data.size() - sent);
    sent += n;
    stream += Message(data.size() - sent, std::string_view(data).substr(sent - n, n));
  }
  Sha256Digest digest = Sha256::Of(data);
  return stream + Message(0, std::string_view(reinterpret_cast<const char*>(digest.data()), 32));
}

std::string WithTrailer(const std::string& data) {
  Sha256Digest digest = Sha256::Of(data);
  return data + std::string(reinterpret_cast<const char*>(digest.data()), 32);
}

// Decodes `stream` fed in pieces of `sizes` (cycled); returns the output, throws what it throws.
std::string Decode(const std::string& stream, const std::vector<size_t>& sizes) {
  StringSink sink;
  GatewayStreamDecoder decoder(sink);
  size_t pos = 0;
  for (size_t i = 0; pos < stream.size(); ++i) {
    size_t n = std::min(sizes[i % sizes.size()], stream.size() - pos);
    decoder.Feed(std::string_view(stream).substr(pos, n));
    pos += n;
  }
  decoder.Finish();
  return sink.bytes;
}

}  // namespace

TEST_CASE("the test stream has the gateway's shape", "[gateway]") {
  // Guards the generator the other tests rely on (checked against a live etcd 3.4.23).
  std::string data = RandomBytes(2 * kBlob + 8192, 1);
  std::string stream = GatewayStream(data);
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < stream.size();) {
    size_t nl = stream.find('\n', pos);
    lines.push_back(stream.substr(pos, nl - pos));
    pos = nl + 1;
  }
  REQUIRE(lines.size() == 4);
  CHECK_THAT(lines[0], Catch::StartsWith(R"({"result":{"remaining_bytes":"40960","blob":")"));
  CHECK_THAT(lines[1], Catch::StartsWith(R"({"result":{"remaining_bytes":"8192","blob":")"));
  CHECK_THAT(lines[2], Catch::StartsWith(R"({"result":{"blob":")"));
  CHECK(lines[3] == R"({"result":{"blob":")" +
                        Base64Encode(std::string_view(
                            reinterpret_cast<const char*>(Sha256::Of(data).data()), 32)) +
                        R"("}})");
}

TEST_CASE("decodes whole streams of several sizes", "[gateway]") {
  for (size_t size : {size_t{4096}, kBlob - 512, kBlob, kBlob + 4096, 3 * kBlob, 5 * kBlob + 512,
                      size_t{1} << 20}) {
    INFO("database " << size);
    std::string data = RandomBytes(size, static_cast<uint32_t>(size));
    std::string stream = GatewayStream(data);
    StringSink sink;
    GatewayStreamDecoder decoder(sink);
    decoder.Feed(stream);
    decoder.Finish();
    CHECK(sink.bytes == WithTrailer(data));
    CHECK(decoder.database_size() == size);
    CHECK(decoder.bytes_decoded() == size + 32);
  }
}

TEST_CASE("decodes a stream split at every byte boundary", "[gateway]") {
  // Small blobs keep the stream short enough to split everywhere, several messages included.
  for (size_t blob : {size_t{512}, size_t{4096}}) {
    std::string data = RandomBytes(2048 + 512, 3);
    std::string stream = GatewayStream(data, blob);
    const std::string expected = WithTrailer(data);
    INFO("blob " << blob << ", stream " << stream.size());
    for (size_t cut = 1; cut < stream.size(); ++cut) {
      StringSink sink;
      GatewayStreamDecoder decoder(sink);
      decoder.Feed(std::string_view(stream).substr(0, cut));
      decoder.Feed(std::string_view(stream).substr(cut));
      decoder.Finish();
      if (sink.bytes != expected) FAIL("wrong output when split at " << cut);
    }
    // And one byte at a time.
    CHECK(Decode(stream, {1}) == expected);
  }
  // A database smaller than one blob, split at every boundary, with the real blob size.
  std::string tiny = RandomBytes(4096, 4);
  std::string stream = GatewayStream(tiny);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    StringSink sink;
    GatewayStreamDecoder decoder(sink);
    decoder.Feed(std::string_view(stream).substr(0, cut));
    decoder.Feed("");
    decoder.Feed(std::string_view(stream).substr(cut));
    decoder.Finish();
    if (sink.bytes != WithTrailer(tiny)) FAIL("wrong output when split at " << cut);
  }
}

TEST_CASE("decodes streams in random chunkings", "[gateway]") {
  std::mt19937 rng(17);
  std::string data = RandomBytes(7 * kBlob + 4096, 5);
  std::string stream = GatewayStream(data);
  const std::string expected = WithTrailer(data);
  for (int round = 0; round < 40; ++round) {
    std::vector<size_t> sizes;
    size_t max = round % 2 ? 100 : 70000;
    for (int i = 0; i < 30; ++i) sizes.push_back(1 + rng() % max);
    INFO("round " << round);
    CHECK(Decode(stream, sizes) == expected);
  }
}

TEST_CASE("output goes out as it arrives", "[gateway]") {
  std::string data = RandomBytes(3 * kBlob, 6);
  std::string stream = GatewayStream(data);
  StringSink sink;
  GatewayStreamDecoder decoder(sink);
  size_t first_newline = stream.find('\n');
  decoder.Feed(std::string_view(stream).substr(0, first_newline + 1));
  CHECK(sink.bytes == data.substr(0, kBlob));
  CHECK(decoder.database_size() == data.size());
  CHECK(decoder.bytes_decoded() == kBlob);
}

TEST_CASE("a cut stream never ends in success", "[gateway]") {
  for (size_t size : {size_t{4096}, 2 * kBlob + 4096}) {
    std::string data = RandomBytes(size, 8);
    std::string stream = GatewayStream(data);
    // Success is only right once the trailer message is complete (its newline may be missing).
    const size_t complete = stream.rfind('}') + 1;
    std::vector<size_t> cuts;
    if (size <= 4096) {
      for (size_t c = 0; c < complete; ++c) cuts.push_back(c);
    } else {
      for (size_t c = 0; c < complete; c += 257) cuts.push_back(c);
      for (size_t nl = stream.find('\n'); nl != std::string::npos; nl = stream.find('\n', nl + 1)) {
        for (size_t c : {nl - 1, nl, nl + 1}) {
          if (c < complete) cuts.push_back(c);
        }
      }
      cuts.push_back(complete - 1);
    }
    INFO("database " << size);
    for (size_t cut : cuts) {
      INFO("cut at " << cut << " of " << stream.size());
      StringSink sink;
      GatewayStreamDecoder decoder(sink);
      decoder.Feed(std::string_view(stream).substr(0, cut));
      RequireError([&] { decoder.Finish(); }, ErrorKind::kTransient,
                   cut == 0 ? "before any data" : "cut");
      // Whatever came out is a prefix of the snapshot, never more.
      CHECK(WithTrailer(data).compare(0, sink.bytes.size(), sink.bytes) == 0);
    }
    // Cut right after the last '}' or anywhere in the trailing newline: complete, fine.
    CHECK(Decode(stream.substr(0, complete), {1000}) == WithTrailer(data));
  }
}

TEST_CASE("an etcd error object is thrown with its message", "[gateway]") {
  const std::string data = RandomBytes(3 * kBlob, 9);
  const std::string stream = GatewayStream(data);
  const size_t second_message = stream.find('\n') + 1;
  for (bool newline : {true, false}) {
    std::string error = std::string(kNoLeader) + (newline ? "\n" : "");
    INFO("newline " << newline);
    // At the start, as the only thing in the body.
    RequireError([&] { Decode(error, {1 << 20}); }, ErrorKind::kTransient, "etcdserver: no leader");
    RequireError([&] { Decode(error, {1}); }, ErrorKind::kTransient, "etcdserver: no leader");
    // Mid-stream, after some data.
    std::string mid = stream.substr(0, second_message) + error;
    for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, mid.size()}) {
      RequireError([&] { Decode(mid, {piece}); }, ErrorKind::kTransient, "etcdserver: no leader");
    }
    // Split at every point of the error message itself.
    for (size_t cut = second_message; cut <= mid.size(); ++cut) {
      StringSink sink;
      GatewayStreamDecoder decoder(sink);
      auto run = [&] {
        decoder.Feed(std::string_view(mid).substr(0, cut));
        decoder.Feed(std::string_view(mid).substr(cut));
        decoder.Finish();
      };
      RequireError(run, ErrorKind::kTransient, "no leader");
    }
  }
  RequireError([&] { Decode(kNoLeader, {10}); }, ErrorKind::kTransient, "grpc code 14");
  // Codes that will not get better are permanent; the newer gateway's "code" is read too.
  RequireError(
      [] {
        Decode(R"({"error":{"grpc_code":7,"message":"etcdserver: permission denied"}})"
               "\n",
               {100});
      },
      ErrorKind::kPermanent, "permission denied");
  RequireError([] { Decode(R"({"error":{"code":14,"message":"unavailable"}})", {100}); },
               ErrorKind::kTransient, "unavailable");
  RequireError([] { Decode(R"({"error":{"code":3,"message":"bad request"}})", {100}); },
               ErrorKind::kPermanent, "bad request");
  // The unary form etcd answers a bad request with (seen from etcd 3.4.23).
  RequireError(
      [] {
        Decode(R"({"error":"invalid character 'g'","message":"invalid character 'g'","code":3})",
               {100});
      },
      ErrorKind::kPermanent, "invalid character 'g' (grpc code 3)");
  RequireError([] { Decode(R"({"error":"just a string"})", {100}); }, ErrorKind::kTransient,
               "just a string");
  // A message that would break the one-line rule is flattened and shortened.
  try {
    Decode(R"({"error":{"grpc_code":14,"message":"line one\nline two)" + std::string(1000, 'x') +
               R"("}})",
           {100});
    FAIL("no error");
  } catch (const Error& e) {
    std::string what = e.what();
    CHECK(what.find('\n') == std::string::npos);
    CHECK_THAT(what, Catch::Contains("line one line two"));
    CHECK(what.size() < 500);
  }
}

TEST_CASE("malformed streams fail with clear kinds", "[gateway]") {
  const std::string data = RandomBytes(2 * kBlob + 4096, 10);
  const std::string good = GatewayStream(data);
  const size_t second = good.find('\n') + 1;
  const std::string head = good.substr(0, second);  // the first data message

  SECTION("a line that is not JSON") {
    RequireError([&] { Decode(head + "this is not json\n", {99}); }, ErrorKind::kCorrupt,
                 "not a JSON object");
    RequireError([&] { Decode("[1,2]\n", {99}); }, ErrorKind::kCorrupt, "not a JSON object");
    RequireError([&] { Decode("{\"result\":{\"blob\":\"AAAA\"}\n", {99}); }, ErrorKind::kCorrupt,
                 "not a JSON object");
  }
  SECTION("no result") {
    RequireError([&] { Decode("{\"hello\":1}\n", {99}); }, ErrorKind::kCorrupt, "\"result\"");
    RequireError([&] { Decode("{\"result\":\"x\"}\n", {99}); }, ErrorKind::kCorrupt, "\"result\"");
  }
  SECTION("bad base64") {
    RequireError(
        [&] {
          Decode(R"({"result":{"remaining_bytes":"10","blob":"AA!A"}})"
                 "\n",
                 {99});
        },
        ErrorKind::kCorrupt, "blob");
    RequireError(
        [&] {
          Decode(head + R"({"result":{"blob":"A"}})"
                        "\n",
                 {99});
        },
        ErrorKind::kCorrupt, "blob");
    RequireError(
        [&] {
          Decode(R"({"result":{"blob":12}})"
                 "\n",
                 {99});
        },
        ErrorKind::kCorrupt, "blob");
  }
  SECTION("remaining_bytes that does not add up") {
    // Second message claims more or less than is left.
    std::string second_blob = data.substr(kBlob, kBlob);
    for (uint64_t wrong : {uint64_t{0}, uint64_t{4095}, uint64_t{4097}, uint64_t{1} << 40}) {
      INFO(wrong);
      RequireError([&] { Decode(head + Message(wrong, second_blob), {99}); }, ErrorKind::kCorrupt,
                   "remaining_bytes");
    }
    // More data than announced.
    std::string over = head + Message(4096, data.substr(kBlob, kBlob)) +
                       Message(0, data.substr(2 * kBlob)) + Message(0, std::string(8192, 'x'));
    RequireError([&] { Decode(over, {1000}); }, ErrorKind::kCorrupt, "trailer");
    // Not a number.
    RequireError(
        [&] {
          Decode(R"({"result":{"remaining_bytes":"12x","blob":"AAAA"}})"
                 "\n",
                 {99});
        },
        ErrorKind::kCorrupt, "remaining_bytes");
    RequireError(
        [&] {
          Decode(R"({"result":{"remaining_bytes":"-1","blob":"AAAA"}})"
                 "\n",
                 {99});
        },
        ErrorKind::kCorrupt, "remaining_bytes");
    RequireError(
        [&] {
          Decode(R"({"result":{"remaining_bytes":true,"blob":"AAAA"}})"
                 "\n",
                 {99});
        },
        ErrorKind::kCorrupt, "remaining_bytes");
    // An empty data message would never end the stream.
    RequireError([&] { Decode(head + Message(kBlob + 4096, ""), {99}); }, ErrorKind::kCorrupt,
                 "remaining_bytes");
  }
  SECTION("an empty database") {
    RequireError(
        [&] {
          Decode(R"({"result":{}})"
                 "\n",
                 {99});
        },
        ErrorKind::kCorrupt, "empty");
  }
  SECTION("a message after the trailer") {
    RequireError([&] { Decode(good + Message(0, std::string(32, 'x')), {4096}); },
                 ErrorKind::kCorrupt, "after the SHA-256 trailer");
    // Even without its newline (arrives in Finish).
    std::string extra = Message(0, "abc");
    extra.pop_back();
    RequireError([&] { Decode(good + extra, {4096}); }, ErrorKind::kCorrupt,
                 "after the SHA-256 trailer");
  }
  SECTION("a trailer of the wrong length") {
    std::string body = good.substr(0, good.rfind('\n', good.size() - 2) + 1);  // no trailer
    for (size_t len : {size_t{0}, size_t{31}, size_t{33}, size_t{64}}) {
      INFO(len);
      RequireError([&] { Decode(body + Message(0, std::string(len, 't')), {4096}); },
                   ErrorKind::kCorrupt, "trailer");
    }
    // A trailer message that still announces remaining bytes.
    RequireError([&] { Decode(body + Message(5, std::string(32, 't')), {4096}); },
                 ErrorKind::kCorrupt, "trailer");
  }
  SECTION("an overlong line without a newline") {
    StringSink sink;
    GatewayStreamDecoder decoder(sink);
    std::string junk(64 * 1024, 'A');
    auto run = [&] {
      for (size_t fed = 0; fed < 2 * GatewayStreamDecoder::kMaxMessageSize; fed += junk.size()) {
        decoder.Feed(junk);
      }
    };
    RequireError(run, ErrorKind::kCorrupt, "longer than");
  }
  SECTION("an overlong line that ends in a newline") {
    // Held over several Feeds, then closed by a newline in a big chunk: still refused.
    StringSink sink;
    GatewayStreamDecoder decoder(sink);
    std::string big(GatewayStreamDecoder::kMaxMessageSize - 10, 'A');
    auto run = [&] {
      decoder.Feed("{\"result\":{\"blob\":\"");
      decoder.Feed(big + big + "\"}}\n");
    };
    RequireError(run, ErrorKind::kCorrupt, "longer than");
  }
  SECTION("blank lines and CRLF are tolerated") {
    std::string crlf;
    for (size_t pos = 0; pos < good.size();) {
      size_t nl = good.find('\n', pos);
      crlf += good.substr(pos, nl - pos) + "\r\n\n";
      pos = nl + 1;
    }
    CHECK(Decode(crlf, {333}) == WithTrailer(data));
  }
}

TEST_CASE("messages of other shapes decode like the gateway's own", "[gateway]") {
  // The decoder reads etcd's exact message shape directly and leaves any other JSON to a
  // parser: both must give the same bytes for the same meaning.
  const std::string data = RandomBytes(kBlob + 100, 21);
  const std::string first = data.substr(0, kBlob), last = data.substr(kBlob);
  const Sha256Digest digest = Sha256::Of(data);
  const std::string trailer(reinterpret_cast<const char*>(digest.data()), 32);
  const std::string remaining = std::to_string(last.size());
  const std::vector<std::string> firsts = {
      R"({"result":{"remaining_bytes":")" + remaining + R"(","blob":")" + Base64Encode(first) +
          R"("}})",
      R"({"result":{"header":{"cluster_id":"1","revision":"7"},"remaining_bytes":")" + remaining +
          R"(","blob":")" + Base64Encode(first) + R"("}})",
      R"({"result":{"blob":")" + Base64Encode(first) + R"(","remaining_bytes":")" + remaining +
          R"("}})",
      R"({ "result" : { "remaining_bytes" : )" + remaining + R"(, "blob" : ")" +
          Base64Encode(first) + R"(" } }  )",
      R"({"result":{"remaining_bytes":")" + remaining + R"(","blob":")" + Base64Encode(first) +
          R"("}})" + "\r",
  };
  for (const std::string& message : firsts) {
    INFO(message.substr(0, 80));
    // The last data message announces 0 remaining: the trailer follows.
    StringSink sink;
    GatewayStreamDecoder decoder(sink);
    decoder.Feed(message + "\n" + Message(0, last));
    decoder.Feed(Message(0, trailer));
    decoder.Finish();
    CHECK(sink.bytes == data + trailer);
  }
}
