// Integration tests of the S3 client, the streaming upload and S3Store against a real Ceph RGW
// (started by with-s3-server.sh, which exports S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and
// S3_REGION), plus interoperability with awscli and rclone when they are installed.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "../unit/store_increment_suite.h"
#include "core/digest.h"
#include "core/encoding.h"
#include "core/error.h"
#include "s3/key_upload_abort.h"
#include "s3/s3_client.h"
#include "s3/s3_parallel.h"
#include "s3/s3_upload.h"
#include "snapshot/snapshot_name.h"
#include "snapshot/snapshot_record.h"
#include "store/s3_store.h"

using namespace snapd;
using namespace std::chrono;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    FAIL(name << " is not set: run this through tests/integration/with-s3-server.sh");
  }
  return value;
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t word = engine();
    std::memcpy(bytes.data() + i, &word, std::min<size_t>(8, size - i));
  }
  return bytes;
}

std::string Md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), digest, &size, EVP_md5(), nullptr) == 1);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

std::string RandomSuffix() {
  static std::mt19937_64 engine{std::random_device{}()};
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(engine()));
  return text;
}

S3ClientOptions PeerOptions(const std::string& bucket) {
  S3ClientOptions options;
  options.endpoint = Env("S3_ENDPOINT");
  options.bucket = bucket;
  options.region = Env("S3_REGION");
  options.insecure = true;
  options.credentials = {Env("S3_ACCESS_KEY"), Env("S3_SECRET_KEY"), ""};
  options.proxy = "none";
  options.operation_timeout = seconds(60);
  return options;
}

// A fresh bucket for one test case.
std::string NewBucket(const std::string& what) {
  std::string bucket = "it-" + what + "-" + RandomSuffix().substr(0, 8);
  S3Client(PeerOptions(bucket)).CreateBucket();
  return bucket;
}

// Runs `f`, which must throw snapd::Error of `kind` with every `parts` in its message.
template <typename F>
std::string RequireError(F&& f, ErrorKind kind, std::vector<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(ErrorKindName(e.kind()) == ErrorKindName(kind));
    for (const std::string& part : parts) {
      CHECK(std::string(e.what()).find(part) != std::string::npos);
    }
    return e.what();
  }
  FAIL("no error thrown");
  return "";
}

class StringSink final : public ByteSink {
 public:
  void Write(std::string_view chunk) override { data.append(chunk); }
  std::string data;
};

// Compares a stream with the bytes expected, without holding a second copy.
class CompareSink final : public ByteSink {
 public:
  explicit CompareSink(const std::string& expected) : expected_(expected) {}
  void Write(std::string_view chunk) override {
    if (position_ + chunk.size() > expected_.size() ||
        expected_.compare(position_, chunk.size(), chunk) != 0) {
      mismatch_ = true;
    }
    position_ += chunk.size();
  }
  bool Matches() const { return !mismatch_ && position_ == expected_.size(); }
  size_t position() const { return position_; }

 private:
  const std::string& expected_;
  size_t position_ = 0;
  bool mismatch_ = false;
};

// Feeds `data` to `sink` in chunks of varying size, as etcd's stream arrives.
void WriteInChunks(ByteSink& sink, const std::string& data, uint64_t seed) {
  std::mt19937 engine(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<size_t> size(1, 300000);
  size_t at = 0;
  while (at < data.size()) {
    size_t n = std::min(size(engine), data.size() - at);
    sink.Write(std::string_view(data).substr(at, n));
    at += n;
  }
}

std::string ReadAll(ByteSource& source) {
  std::string out;
  char buffer[100000];
  while (size_t n = source.Read(buffer, sizeof buffer)) out.append(buffer, n);
  return out;
}

std::vector<std::string> Keys(const std::vector<S3Object>& objects) {
  std::vector<std::string> keys;
  for (const S3Object& object : objects) keys.push_back(object.key);
  return keys;
}

const SnapshotRecord* Find(const std::vector<SnapshotRecord>& records, const std::string& name) {
  for (const SnapshotRecord& r : records) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

class FixedClock final : public Clock {
 public:
  explicit FixedClock(SystemTime now) : now_(now) {}
  SystemTime Now() const override { return now_; }

 private:
  SystemTime now_;
};

S3StoreOptions StoreOptions(const std::string& bucket, const std::string& folder) {
  S3StoreOptions options;
  options.client = PeerOptions(bucket);
  options.folder = folder;
  options.node_name = "node-1.example";
  options.token_hash = [] { return std::string("0123456789ab"); };
  options.initial_part_size = 5 * kMiB;
  return options;
}

SnapshotRecord RecordFor(const std::string& name, const std::string& data) {
  SnapshotRecord record;
  record.name = name;
  record.node = "node-1.example";
  record.size = data.size();
  record.sha256 = Sha256::HexOf(data);
  record.created_at = ParseSnapshotTime(name).value_or(0);
  record.token_hash = "0123456789ab";
  record.compressed = IsZipName(name);
  return record;
}

struct CommandResult {
  int status = -1;
  std::string output;
};

CommandResult Run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[65536];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

bool HaveProgram(const std::string& name) {
  return Run("command -v " + name + " >/dev/null").status == 0;
}

// Waits until a worker has created the upload (it is created off the writing thread).
bool WaitForUploadId(const S3UploadWriter& upload) {
  auto deadline = steady_clock::now() + seconds(30);
  while (upload.upload_id().empty()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// A new empty directory under /tmp.
std::string TempDir() {
  char dir_template[] = "/tmp/s3-test-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  return dir_template;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A TCP proxy in front of RGW that cuts connections once `limit` bytes have flowed one way
// (responses or requests) on them, `cuts` times in all: a peer that resets mid-transfer.
class CuttingProxy {
 public:
  CuttingProxy(int target_port, int cuts, size_t limit, bool cut_responses)
      : target_port_(target_port), cuts_(cuts), limit_(limit), cut_responses_(cut_responses) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), size) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~CuttingProxy() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : connections_) t.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  int cut() const { return cut_count_.load(); }

 private:
  static int Connect(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  void AcceptLoop() {
    for (;;) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      int server = Connect(target_port_);
      if (server < 0) {
        ::close(client);
        continue;
      }
      std::lock_guard lock(mu_);
      open_fds_.push_back(client);
      open_fds_.push_back(server);
      connections_.emplace_back([this, client, server] { Serve(client, server); });
    }
  }

  void Serve(int client, int server) {
    std::thread up([&] { Pump(client, server, !cut_responses_); });
    Pump(server, client, cut_responses_);
    up.join();
    ::close(client);
    ::close(server);
  }

  // Copies `from` to `to`; when `cut` and cuts are left, resets both after `limit_` bytes.
  void Pump(int from, int to, bool cut) {
    char buffer[65536];
    size_t moved = 0;
    for (;;) {
      ssize_t n = ::read(from, buffer, sizeof buffer);
      if (n <= 0) break;
      size_t send = static_cast<size_t>(n);
      bool cutting = cut && moved + send >= limit_ && TakeCut();
      if (cutting) send = limit_ - moved;
      if (::send(to, buffer, send, MSG_NOSIGNAL) != static_cast<ssize_t>(send)) break;
      moved += send;
      if (cutting) {
        // Reset rather than close, as a peer that died would.
        linger reset{1, 0};
        ::setsockopt(to, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        ::setsockopt(from, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        ::shutdown(from, SHUT_RDWR);
        ::shutdown(to, SHUT_RDWR);
        return;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  bool TakeCut() {
    int done = cut_count_.load();
    while (done < cuts_) {
      if (cut_count_.compare_exchange_weak(done, done + 1)) return true;
    }
    return false;
  }

  int target_port_;
  int cuts_;
  size_t limit_;
  bool cut_responses_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> cut_count_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> connections_;
};

int PeerPort() {
  std::string endpoint = Env("S3_ENDPOINT");
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

}  // namespace

TEST_CASE("HeadBucket names a missing bucket and passes for a created one", "[s3-integration]") {
  const std::string bucket = "it-missing-" + RandomSuffix().substr(0, 8);
  S3Client client(PeerOptions(bucket));
  RequireError([&] { client.HeadBucket(); }, ErrorKind::kPermanent,
               {"HeadBucket", "s3://" + bucket, "NoSuchBucket", "HTTP 404"});

  S3StoreOptions options = StoreOptions(bucket, "f");
  S3Store store(options);
  RequireError([&] { store.Check(); }, ErrorKind::kPermanent, {"NoSuchBucket"});

  client.CreateBucket();
  client.HeadBucket();
  store.Check();
  CHECK(client.counters()->retries.load() == 0);
}

TEST_CASE("small objects: put, head, get, ranges and delete", "[s3-integration]") {
  S3Client client(PeerOptions(NewBucket("small")));
  const std::string body = RandomBytes(100000, 1);
  S3PutOptions put;
  put.content_type = "application/zip";
  put.metadata = {{"k3s-node-name", "node-a"}, {"k3s-token-hash", "abcdef012345"}};
  std::string etag = client.PutObject("dir/obj", body, put);
  CHECK(etag == "\"" + Md5Hex(body) + "\"");

  S3ObjectHead head = client.HeadObject("dir/obj");
  CHECK(head.size == body.size());
  CHECK(head.etag == etag);
  CHECK(head.content_type == "application/zip");
  CHECK(head.metadata["k3s-node-name"] == "node-a");
  CHECK(head.metadata["k3s-token-hash"] == "abcdef012345");
  CHECK(head.last_modified > 1700000000);

  CHECK(client.GetSmallObject("dir/obj") == body);
  StringSink range;
  client.GetObject("dir/obj", range, 1000, 5000, etag);
  CHECK(range.data == body.substr(1000, 5000));
  StringSink tail;
  client.GetObject("dir/obj", tail, 99990);
  CHECK(tail.data == body.substr(99990));
  // A pinned read of an object that changed fails instead of mixing versions.
  StringSink stale;
  RequireError([&] { client.GetObject("dir/obj", stale, 0, 10, "\"0000\""); }, ErrorKind::kConflict,
               {"GetObject", "HTTP 412"});
  RequireError([&] { client.GetSmallObject("dir/obj", 1000); }, ErrorKind::kCorrupt,
               {"GetObject", "/dir/obj", "larger than 1000 bytes"});

  // Empty objects are valid objects.
  client.PutObject("dir/empty", "");
  CHECK(client.HeadObject("dir/empty").size == 0);
  CHECK(client.GetSmallObject("dir/empty").empty());

  client.DeleteObject("dir/obj");
  RequireError([&] { client.HeadObject("dir/obj"); }, ErrorKind::kNotFound,
               {"HeadObject", "no such object", "HTTP 404"});
  RequireError([&] { client.GetSmallObject("dir/obj"); }, ErrorKind::kNotFound,
               {"GetObject", "NoSuchKey"});
  client.DeleteObject("dir/obj");  // deleting a missing key succeeds, as S3 does

  client.PutObject("batch/a", "a");
  client.PutObject("batch/b & <c>", "b");
  CHECK(client.DeleteObjects({"batch/a", "batch/b & <c>", "batch/never"}).empty());
  CHECK(client.ListAllObjects("batch/").empty());
  CHECK(client.counters()->retries.load() == 0);
}

TEST_CASE("a 40 MiB stream uploads as parallel parts and reads back byte for byte",
          "[s3-integration]") {
  S3Client client(PeerOptions(NewBucket("multipart")));
  const std::string data = RandomBytes(40 * kMiB + 12345, 2);
  S3UploadOptions options;
  options.key = "big/stream.bin";
  options.concurrency = 4;
  options.put.metadata = {{"k3s-node-name", "node-b"}};
  auto started = steady_clock::now();
  S3UploadWriter upload(client, options);
  WriteInChunks(upload, data, 3);
  S3ObjectHead head = upload.Complete();
  INFO("upload took " << duration_cast<milliseconds>(steady_clock::now() - started).count()
                      << " ms");
  CHECK(upload.multipart());
  CHECK(upload.object_created());
  CHECK(upload.parts_uploaded() == 6);  // five of 8 MiB and the rest
  CHECK(head.size == data.size());
  CHECK(head.etag.ends_with("-6\""));
  CHECK(head.metadata["k3s-node-name"] == "node-b");
  CHECK(client.ListMultipartUploads("big/").empty());

  CompareSink compare(data);
  client.GetObject("big/stream.bin", compare);
  CHECK(compare.position() == data.size());
  CHECK(compare.Matches());
}

TEST_CASE("multipart calls: parts, listing, completion and EntityTooSmall", "[s3-integration]") {
  S3Client client(PeerOptions(NewBucket("parts")));
  const std::string first = RandomBytes(5 * kMiB, 20);
  const std::string second = RandomBytes(1000, 21);
  std::string upload_id = client.CreateMultipartUpload("m/obj");
  std::vector<S3Part> parts = {{1, client.UploadPart("m/obj", upload_id, 1, first), 0},
                               {2, client.UploadPart("m/obj", upload_id, 2, second), 0}};
  std::vector<S3Part> listed = client.ListParts("m/obj", upload_id);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].number == 1);
  CHECK(listed[0].size == first.size());
  CHECK(listed[0].etag == parts[0].etag);
  CHECK(listed[1].size == second.size());
  std::vector<S3Upload> uploads = client.ListMultipartUploads("m/");
  REQUIRE(uploads.size() == 1);
  CHECK(uploads[0].key == "m/obj");
  CHECK(uploads[0].upload_id == upload_id);
  CHECK(client.CompleteMultipartUpload("m/obj", upload_id, parts).empty());  // RGW's quirk
  CHECK(client.HeadObject("m/obj").etag.ends_with("-2\""));
  CHECK(client.GetSmallObject("m/obj", 6 * kMiB) == first + second);
  CHECK(client.ListMultipartUploads("m/").empty());
  RequireError([&] { client.UploadPart("m/obj", upload_id, 3, "late"); }, ErrorKind::kNotFound,
               {"UploadPart", "NoSuchUpload", "HTTP 404"});

  // Parts under 5 MiB but the last are refused at completion, at once.
  std::string small_id = client.CreateMultipartUpload("m/small");
  std::vector<S3Part> small = {{1, client.UploadPart("m/small", small_id, 1, "aaa"), 0},
                               {2, client.UploadPart("m/small", small_id, 2, "bbb"), 0}};
  RequireError([&] { client.CompleteMultipartUpload("m/small", small_id, small); },
               ErrorKind::kPermanent, {"CompleteMultipartUpload", "EntityTooSmall", "HTTP 400"});
  client.AbortMultipartUpload("m/small", small_id);
  client.AbortMultipartUpload("m/small", small_id);  // already gone: fine
  CHECK(client.ListMultipartUploads("").empty());
  CHECK(client.counters()->retries.load() == 0);
}

TEST_CASE("Write never waits for S3: parts wait in the spool, not in memory", "[s3-integration]") {
  S3Client client(PeerOptions(NewBucket("spool")));
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  int held = 0;
  S3UploadOptions options;
  options.key = "slow";
  options.concurrency = 2;
  options.initial_part_size = 5 * kMiB;
  options.spill_dir = TempDir();
  options.before_part = [&](int) {
    std::unique_lock lock(mu);
    ++held;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  };
  const std::string data = RandomBytes(40 * kMiB, 22);
  S3UploadWriter upload(client, options);
  // Both workers are held inside a part; the whole stream is still taken without waiting.
  WriteInChunks(upload, data, 23);
  {
    std::unique_lock lock(mu);
    CHECK(cv.wait_for(lock, seconds(30), [&] { return held == 2; }));
    CHECK(upload.parts_uploaded() == 0);
    released = true;
  }
  cv.notify_all();
  CHECK(upload.Complete().size == data.size());
  CHECK(upload.parts_uploaded() == 8);
  CompareSink compare(data);
  client.GetObject("slow", compare);
  CHECK(compare.Matches());
  // The spool is unlinked from the start: nothing is left in its directory.
  CHECK(std::filesystem::is_empty(options.spill_dir));
}

TEST_CASE("the upload is journaled before its first part and unjournaled when it ends",
          "[s3-integration]") {
  S3Client client(PeerOptions(NewBucket("journal-hooks")));
  std::vector<std::string> events;
  std::mutex mu;
  S3UploadOptions options;
  options.key = "hooked";
  options.concurrency = 3;
  options.initial_part_size = 5 * kMiB;
  options.on_creating = [&] {
    std::lock_guard lock(mu);
    events.push_back("creating");
  };
  options.on_created = [&](const std::string& id) {
    std::lock_guard lock(mu);
    events.push_back("created " + id);
  };
  options.on_abort_failed = [&] {
    std::lock_guard lock(mu);
    events.push_back("abort failed");
  };
  options.on_ended = [&](const std::string& id) {
    std::lock_guard lock(mu);
    events.push_back("ended " + id);
  };
  options.before_part = [&](int part) {
    std::lock_guard lock(mu);
    events.push_back("part " + std::to_string(part));
  };
  const std::string data = RandomBytes(12 * kMiB, 25);
  {
    S3UploadWriter upload(client, options);
    WriteInChunks(upload, data, 26);
    upload.Complete();
  }
  REQUIRE(events.size() == 6);
  CHECK(events[0] == "creating");
  CHECK(events[1].starts_with("created "));
  CHECK(events.back() == "ended " + events[1].substr(8));

  // Aborted (a failed part): the abort also ends the journal entry.
  events.clear();
  options.key = "failing";
  options.before_part = [](int part) {
    if (part == 2) throw Error::Permanent("injected part failure");
  };
  {
    S3UploadWriter upload(client, options);
    CHECK_THROWS(([&] {
      WriteInChunks(upload, data, 27);
      upload.Complete();
    }()));
  }
  REQUIRE(events.size() == 3);
  CHECK(events[2] == "ended " + events[1].substr(8));
  CHECK(client.ListMultipartUploads("").empty());

  // Unable to journal the key: nothing is created, so nothing is left to end.
  events.clear();
  options.key = "unjournaled";
  options.before_part = nullptr;
  options.on_creating = [] { throw Error::Permanent("injected journal failure"); };
  {
    S3UploadWriter upload(client, options);
    CHECK_THROWS_WITH(([&] {
                        WriteInChunks(upload, data, 28);
                        upload.Complete();
                      }()),
                      Catch::Contains("injected journal failure"));
  }
  CHECK(events.empty());
  CHECK(client.ListMultipartUploads("").empty());

  // S3 unreachable: CreateMultipartUpload went out unanswered, so an upload of the key may
  // exist that cannot be looked for: the entry is handed to the recovery, not dropped.
  S3ClientOptions unreachable = client.options();
  unreachable.endpoint = "127.0.0.1:1";  // nothing listens there: connection refused
  unreachable.operation_timeout = milliseconds(300);
  unreachable.retry.first_delay = milliseconds(20);
  S3Client refused(unreachable);
  options.key = "unanswered";
  options.on_creating = [&] {
    std::lock_guard lock(mu);
    events.push_back("creating");
  };
  {
    S3UploadWriter upload(refused, options);
    CHECK_THROWS(([&] {
      WriteInChunks(upload, data, 29);
      upload.Complete();
    }()));
  }
  CHECK(events == std::vector<std::string>{"creating", "abort failed"});
}

TEST_CASE("AbortUploadsOfKey aborts every upload of its key and no other", "[s3-integration]") {
  S3Client client(PeerOptions(NewBucket("abort-key")));
  const std::string known = client.CreateMultipartUpload("f/snap");
  client.UploadPart("f/snap", known, 1, RandomBytes(kMiB, 30));
  // A creation whose answer never came: its id is unknown to the caller.
  client.CreateMultipartUpload("f/snap");
  const std::string longer = client.CreateMultipartUpload("f/snap.zip");
  CHECK(AbortUploadsOfKey(client, "f/snap", known) == 2);
  std::vector<S3Upload> left = client.ListMultipartUploads("");
  REQUIRE(left.size() == 1);
  CHECK(left[0].upload_id == longer);
  // Nothing left: one listing, no abort.
  CHECK(AbortUploadsOfKey(client, "f/snap", "") == 0);
  CHECK(AbortUploadsOfKey(client, "f/snap.zip", "") == 1);
  CHECK(client.ListMultipartUploads("").empty());
}

TEST_CASE("a cancelled upload stops at once and leaves nothing", "[s3-integration]") {
  const std::string bucket = NewBucket("cancel");
  std::atomic<bool> stop{false};
  S3ClientOptions client_options = PeerOptions(bucket);
  client_options.cancel = &stop;
  S3Client client(client_options);
  S3UploadOptions options;
  options.key = "cancelled";
  options.concurrency = 2;
  options.initial_part_size = 5 * kMiB;
  options.before_part = [&](int) {
    while (!stop.load()) std::this_thread::sleep_for(milliseconds(5));  // a stalled peer
  };
  const std::string data = RandomBytes(40 * kMiB, 23);
  S3UploadWriter upload(client, options);
  std::atomic<bool> cancelled{false};
  std::thread writer([&] {
    try {
      WriteInChunks(upload, data, 24);
      upload.Complete();
    } catch (const Error& e) {
      cancelled = e.kind() == ErrorKind::kCancelled;
    }
  });
  std::this_thread::sleep_for(milliseconds(300));
  auto stopped_at = steady_clock::now();
  stop = true;
  writer.join();
  CHECK(steady_clock::now() - stopped_at < seconds(3));
  CHECK(cancelled.load());
  S3Client observer(PeerOptions(bucket));
  CHECK(observer.ListMultipartUploads("").empty());
  CHECK(observer.ListAllObjects("").empty());
}

TEST_CASE("a stream that fits one part is a single PutObject", "[s3-integration]") {
  S3Client client(PeerOptions(NewBucket("single")));
  const std::string data = RandomBytes(8 * kMiB, 4);  // exactly one part
  S3UploadOptions options;
  options.key = "one";
  S3UploadWriter upload(client, options);
  WriteInChunks(upload, data, 5);
  S3ObjectHead head = upload.Complete({{"k3s-snapd-size", std::to_string(data.size())}});
  CHECK_FALSE(upload.multipart());
  CHECK(head.size == data.size());
  CHECK(head.etag.find('-') == std::string::npos);
  CHECK(head.metadata["k3s-snapd-size"] == std::to_string(data.size()));
  CHECK(client.GetSmallObject("one", 9 * kMiB) == data);
}

TEST_CASE("ListObjectsV2 follows continuation tokens across pages", "[s3-integration]") {
  S3Client client(PeerOptions(NewBucket("pages")));
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) keys.push_back("p/k" + std::to_string(i));
  for (const std::string& key : keys) client.PutObject(key, key);
  client.PutObject("p/sub/x", "x");
  client.PutObject("other", "o");

  S3ListPage first = client.ListObjectsV2("p/", "", 2);
  CHECK(first.objects.size() == 2);
  CHECK(first.truncated);
  CHECK_FALSE(first.next_continuation_token.empty());
  S3ListPage second = client.ListObjectsV2("p/", first.next_continuation_token, 2);
  CHECK(second.objects.size() == 2);
  CHECK(second.objects[0].key > first.objects[1].key);

  std::vector<std::string> all = Keys(client.ListAllObjects("p/", "", 2));
  std::vector<std::string> expected = keys;
  expected.push_back("p/sub/x");
  CHECK(all == expected);
  CHECK(Keys(client.ListAllObjects("p/", "/", 2)) == keys);
  S3ListPage delimited = client.ListObjectsV2("p/", "", 1000, "/");
  CHECK(delimited.common_prefixes == std::vector<std::string>{"p/sub/"});
  CHECK(client.ListAllObjects("p/k4").size() == 1);
  CHECK(client.ListAllObjects("p/k4", "", 1)[0].size == 4);
}

TEST_CASE("a wrong secret fails at once with SignatureDoesNotMatch", "[s3-integration]") {
  const std::string bucket = NewBucket("auth");
  S3ClientOptions options = PeerOptions(bucket);
  const std::string wrong_secret = "WRONG" + options.credentials.secret_access_key.substr(5);
  options.credentials.secret_access_key = wrong_secret;
  S3Client client(options);
  std::string message =
      RequireError([&] { client.PutObject("k", "v"); }, ErrorKind::kPermanent,
                   {"PutObject", "s3://" + bucket + "/k", "SignatureDoesNotMatch", "HTTP 403"});
  CHECK(message.find(wrong_secret) == std::string::npos);
  CHECK(message.find(Env("S3_SECRET_KEY")) == std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
  RequireError([&] { client.HeadBucket(); }, ErrorKind::kPermanent, {"SignatureDoesNotMatch"});
  CHECK(client.counters()->retries.load() == 0);
  CHECK(client.counters()->requests.load() == 3);  // PutObject, HEAD and the GET behind it

  S3ClientOptions unknown = PeerOptions(bucket);
  unknown.credentials.access_key_id = "AKIANOSUCHKEY0000000";
  RequireError([&] { S3Client(unknown).HeadBucket(); }, ErrorKind::kPermanent,
               {"InvalidAccessKeyId"});
  S3StoreOptions store_options = StoreOptions(bucket, "");
  store_options.client = options;
  RequireError([&] { S3Store(store_options).Check(); }, ErrorKind::kPermanent,
               {"SignatureDoesNotMatch"});
}

TEST_CASE("transport failures are retried until the operation timeout", "[s3-integration]") {
  S3ClientOptions options = PeerOptions("any-bucket");
  options.endpoint = "127.0.0.1:1";  // nothing listens there: connection refused
  options.operation_timeout = milliseconds(1500);
  options.retry.first_delay = milliseconds(20);
  options.retry.max_attempts = 1000;
  S3Client client(options);
  auto started = steady_clock::now();
  RequireError([&] { client.HeadObject("k"); }, ErrorKind::kTransient,
               {"HeadObject", "s3://any-bucket/k", "attempts)"});
  auto took = steady_clock::now() - started;
  CHECK(took < seconds(5));
  CHECK(client.counters()->retries.load() >= 3);
  CHECK(client.counters()->requests.load() == client.counters()->retries.load() + 1);
}

TEST_CASE("a GET cut midway resumes where it stopped", "[s3-integration]") {
  const std::string bucket = NewBucket("resume");
  const std::string data = RandomBytes(3 * kMiB + 5, 25);
  S3Client(PeerOptions(bucket)).PutObject("obj", data);

  CuttingProxy proxy(PeerPort(), /*cuts=*/1, /*limit=*/kMiB, /*cut_responses=*/true);
  S3ClientOptions options = PeerOptions(bucket);
  options.endpoint = "127.0.0.1:" + std::to_string(proxy.port());
  options.retry.first_delay = milliseconds(10);
  S3Client client(options);
  CompareSink compare(data);
  client.GetObject("obj", compare);
  CHECK(proxy.cut() == 1);
  CHECK(client.counters()->retries.load() == 1);
  // Resumed with a Range: a restart from byte 0 would have delivered the first MiB twice.
  CHECK(compare.position() == data.size());
  CHECK(compare.Matches());
}

TEST_CASE("an upload cut midway is sent again", "[s3-integration]") {
  const std::string bucket = NewBucket("resend");
  CuttingProxy proxy(PeerPort(), /*cuts=*/2, /*limit=*/2 * kMiB, /*cut_responses=*/false);
  S3ClientOptions options = PeerOptions(bucket);
  options.endpoint = "127.0.0.1:" + std::to_string(proxy.port());
  options.retry.first_delay = milliseconds(10);
  S3Client client(options);
  const std::string data = RandomBytes(12 * kMiB, 26);
  S3UploadOptions upload_options;
  upload_options.key = "resent";
  upload_options.initial_part_size = 5 * kMiB;
  upload_options.concurrency = 2;
  S3UploadWriter upload(client, upload_options);
  WriteInChunks(upload, data, 27);
  CHECK(upload.Complete().size == data.size());
  CHECK(proxy.cut() == 2);
  // Each cut part is sent again: by our retry, or by libcurl itself when the cut connection
  // was a reused one (it rewinds the body and reconnects once before reporting an error).
  CHECK(client.counters()->retries.load() <= 2);
  CHECK(S3Client(PeerOptions(bucket)).GetSmallObject("resent", 13 * kMiB) == data);
}

TEST_CASE("virtual-host addressing works against RGW's DNS name", "[s3-integration]") {
  const std::string bucket = NewBucket("vhost");
  S3ClientOptions options = PeerOptions(bucket);
  std::string endpoint = options.endpoint;
  options.endpoint = "localhost" + endpoint.substr(endpoint.find(':'));
  options.bucket_lookup = BucketLookup::kDns;
  S3Client client(options);
  CHECK(client.endpoint().Target("k").host == bucket + "." + options.endpoint);
  client.HeadBucket();
  client.PutObject("via dns", "hello");
  CHECK(S3Client(PeerOptions(bucket)).GetSmallObject("via dns") == "hello");
}

TEST_CASE("S3Store: create, commit, list, open and remove with records", "[s3-integration]") {
  const std::string bucket = NewBucket("store");
  S3Store store(StoreOptions(bucket, "/k3s//snapshots/"));
  CHECK(store.folder() == "k3s/snapshots");
  S3Client raw(PeerOptions(bucket));

  const std::string big_name = "etcd-snapshot-node-1.example-1700000000";
  const std::string small_name = "on-demand-node-1.example-1700000100.zip";
  const std::string big = RandomBytes(12 * kMiB + 7, 6);
  const std::string small = RandomBytes(3000, 7);

  auto writer = store.Create(big_name);
  WriteInChunks(*writer, big, 8);
  SnapshotRecord stored = writer->Commit(RecordFor(big_name, big));
  CHECK(stored.storage == "s3");
  CHECK(stored.location == "s3://" + bucket + "/k3s/snapshots/" + big_name);
  CHECK(stored.size == big.size());
  CHECK(stored.status == "ready");

  auto small_writer = store.Create(small_name);
  small_writer->Write(small);
  small_writer->Commit(RecordFor(small_name, small));

  // k3s's layout, object metadata and content types.
  S3ObjectHead big_head = raw.HeadObject("k3s/snapshots/" + big_name);
  CHECK(big_head.content_type == "application/octet-stream");
  CHECK(big_head.metadata["k3s-node-name"] == "node-1.example");
  CHECK(big_head.metadata["k3s-token-hash"] == "0123456789ab");
  S3ObjectHead small_head = raw.HeadObject("k3s/snapshots/" + small_name);
  CHECK(small_head.content_type == "application/zip");
  CHECK(small_head.metadata["k3s-snapd-sha256"] == Sha256::HexOf(small));
  CHECK(small_head.metadata["k3s-snapd-size"] == "3000");
  S3ObjectHead record_head = raw.HeadObject("k3s/snapshots/.metadata/" + big_name);
  CHECK(record_head.content_type == "application/json");
  CHECK(record_head.metadata["k3s-node-name"] == "node-1.example");
  CHECK(record_head.metadata["k3s-snapd-sha256"] == Sha256::HexOf(big));
  CHECK(record_head.metadata["k3s-snapd-size"] == std::to_string(big.size()));
  CHECK(raw.GetSmallObject("k3s/snapshots/.metadata/" + big_name) == RecordToMetadataJson(stored));

  // What else may sit in the folder: a k3s snapshot without our record, an empty object, a
  // leftover `.part`, a sub-folder and a record without its snapshot. Only the first is listed.
  const std::string k3s_name = "etcd-snapshot-node-2-1700000200";
  S3PutOptions k3s_put;
  k3s_put.metadata = {{"k3s-node-name", "node-2"}, {"k3s-token-hash", "fedcba987654"}};
  raw.PutObject("k3s/snapshots/" + k3s_name, "k3s bytes", k3s_put);
  raw.PutObject("k3s/snapshots/etcd-snapshot-node-2-1700000300", "");
  raw.PutObject("k3s/snapshots/etcd-snapshot-node-2-1700000400.part", "partial");
  raw.PutObject("k3s/snapshots/nested/etcd-snapshot-node-3-1700000500", "nested");
  raw.PutObject("k3s/snapshotsX/etcd-snapshot-node-3-1700000600", "sibling folder");
  raw.PutObject("k3s/snapshots/.metadata/etcd-snapshot-node-9-1700000700", "{}");

  std::vector<SnapshotRecord> listed = store.List();
  std::set<std::string> names;
  for (const SnapshotRecord& r : listed) names.insert(r.name);
  CHECK(names == std::set<std::string>{big_name, small_name, k3s_name});

  const SnapshotRecord* big_record = Find(listed, big_name);
  REQUIRE(big_record != nullptr);
  CHECK(big_record->storage == "s3");
  CHECK(big_record->location == stored.location);
  CHECK(big_record->size == big.size());
  CHECK(big_record->sha256 == Sha256::HexOf(big));
  CHECK(big_record->node == "node-1.example");
  CHECK(big_record->token_hash == "0123456789ab");
  CHECK(big_record->created_at == 1700000000);
  CHECK(big_record->status == "ready");
  CHECK_FALSE(big_record->compressed);
  const SnapshotRecord* small_record = Find(listed, small_name);
  REQUIRE(small_record != nullptr);
  CHECK(small_record->compressed);
  CHECK(small_record->created_at == 1700000100);
  const SnapshotRecord* k3s_record = Find(listed, k3s_name);
  REQUIRE(k3s_record != nullptr);
  CHECK(k3s_record->node == "node-2");
  CHECK(k3s_record->token_hash == "fedcba987654");
  CHECK(k3s_record->size == 9);
  CHECK(k3s_record->created_at == 1700000200);
  CHECK(k3s_record->sha256.empty());

  auto source = store.Open(big_name);
  CHECK(ReadAll(*source) == big);
  CHECK(ReadAll(*store.Open(small_name)) == small);

  store.Remove(big_name);
  RequireError([&] { raw.HeadObject("k3s/snapshots/.metadata/" + big_name); }, ErrorKind::kNotFound,
               {"HTTP 404"});
  names.clear();
  for (const SnapshotRecord& r : store.List()) names.insert(r.name);
  CHECK(names == std::set<std::string>{small_name, k3s_name});
  RequireError([&] { store.Remove(big_name); }, ErrorKind::kNotFound, {big_name, "not found"});
  RequireError([&] { store.Open(big_name); }, ErrorKind::kNotFound, {big_name, "not found"});
  RequireError([&] { store.Create("../escape"); }, ErrorKind::kInvalidInput, {"snapshot name"});
}

TEST_CASE("S3Store: a folder with spaces and unicode", "[s3-integration]") {
  const std::string bucket = NewBucket("unicode");
  const std::string folder =
      "snap shots/\xc3\xbcn\xc3\xaf\xc3\xa7\xc3\xb8"
      "d\xc3\xa9 \xe2\x98\x83";
  S3Store store(StoreOptions(bucket, folder));
  const std::string name =
      "on-demand-n\xc3\xb6"
      "de-1700000000";
  const std::string data = RandomBytes(6 * kMiB, 9);  // two parts of 5 MiB and 1 MiB
  auto writer = store.Create(name);
  WriteInChunks(*writer, data, 10);
  SnapshotRecord stored = writer->Commit(RecordFor(name, data));
  CHECK(stored.location == "s3://" + bucket + "/" + folder + "/" + name);

  S3Client raw(PeerOptions(bucket));
  CHECK(Keys(raw.ListAllObjects("")) ==
        std::vector<std::string>{folder + "/.metadata/" + name, folder + "/" + name});
  std::vector<SnapshotRecord> listed = store.List();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].name == name);
  CHECK(listed[0].sha256 == Sha256::HexOf(data));
  CHECK(ReadAll(*store.Open(name)) == data);
  store.Remove(name);
  CHECK(store.List().empty());
  CHECK(raw.ListAllObjects("").empty());
}

TEST_CASE("aborted and failed uploads leave no incomplete multipart upload", "[s3-integration]") {
  const std::string bucket = NewBucket("abort");
  S3Client client(PeerOptions(bucket));
  const std::string data = RandomBytes(30 * kMiB, 11);

  SECTION("Abort mid-stream") {
    S3UploadOptions options;
    options.key = "a/aborted";
    S3UploadWriter upload(client, options);
    upload.Write(std::string_view(data).substr(0, 20 * kMiB));
    REQUIRE(upload.multipart());
    REQUIRE(WaitForUploadId(upload));
    CHECK(client.ListMultipartUploads("a/").size() == 1);
    upload.Abort();
    upload.Abort();  // repeatable
    RequireError([&] { upload.Write("more"); }, ErrorKind::kInvalidInput, {"after the upload"});
  }
  SECTION("destroyed without Complete") {
    S3UploadOptions options;
    options.key = "a/dropped";
    {
      S3UploadWriter upload(client, options);
      upload.Write(std::string_view(data).substr(0, 17 * kMiB));
      REQUIRE(WaitForUploadId(upload));
      CHECK(client.ListMultipartUploads("a/").size() == 1);
    }
  }
  SECTION("dropped while its upload is being created") {
    S3UploadOptions options;
    options.key = "a/early";
    S3UploadWriter upload(client, options);
    upload.Write(std::string_view(data).substr(0, 9 * kMiB));
    upload.Abort();
  }
  SECTION("a part fails after its retries") {
    S3UploadOptions options;
    options.key = "a/failing";
    options.before_part = [](int part) {
      if (part == 2) throw Error::Transient("injected failure of part 2");
    };
    S3UploadWriter upload(client, options);
    bool threw = false;
    try {
      WriteInChunks(upload, data, 12);
      upload.Complete();
    } catch (const Error& e) {
      threw = true;
      CHECK(std::string(e.what()) == "injected failure of part 2");
    }
    CHECK(threw);
    CHECK_FALSE(upload.object_created());
    // A failure seen by Write leaves the network abort to the caller, who may be streaming to
    // a local copy that must not wait for it.
    upload.Abort();
    CHECK(client.ListMultipartUploads("a/").empty());
    RequireError([&] { upload.Complete(); }, ErrorKind::kTransient, {"injected failure"});
  }
  SECTION("the store's writer throws from the stream") {
    S3Store store(StoreOptions(bucket, "a"));
    {
      auto writer = store.Create("etcd-snapshot-n-1700000000");
      writer->Write(std::string_view(data).substr(0, 12 * kMiB));
      // The save pipeline stops here (etcd's stream broke) and drops the writer.
    }
    CHECK(store.List().empty());
  }
  CHECK(client.ListMultipartUploads("").empty());
  CHECK(client.ListAllObjects("").empty());
}

TEST_CASE("S3Store never replaces a snapshot", "[s3-integration]") {
  const std::string bucket = NewBucket("conflict");
  S3Store store(StoreOptions(bucket, "f"));
  S3Client raw(PeerOptions(bucket));
  const std::string name = "on-demand-n-1700000000";
  const std::string first = RandomBytes(11 * kMiB, 13);
  const std::string second = RandomBytes(11 * kMiB, 14);

  // Two saves of one name race: both pass Create's check, the second to commit loses.
  auto winner = store.Create(name);
  auto loser = store.Create(name);
  WriteInChunks(*winner, first, 15);
  WriteInChunks(*loser, second, 16);
  winner->Commit(RecordFor(name, first));
  // The loser's upload is created off the writing thread: before the winner's object exists
  // (refused at CompleteMultipartUpload) or after it (at CreateMultipartUpload).
  RequireError([&] { loser->Commit(RecordFor(name, second)); }, ErrorKind::kConflict,
               {"the object already exists", "s3://" + bucket + "/f/" + name});
  loser.reset();
  CHECK(ReadAll(*store.Open(name)) == first);
  std::vector<SnapshotRecord> listed = store.List();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].sha256 == Sha256::HexOf(first));
  CHECK(raw.ListMultipartUploads("").empty());

  // A save of a name S3 already holds fails before it uploads a part.
  auto late = store.Create(name);
  RequireError(
      [&] {
        WriteInChunks(*late, second, 17);  // may already throw: the check runs as parts go up
        late->Commit(RecordFor(name, second));
      },
      ErrorKind::kConflict, {"CreateMultipartUpload", "already exists"});
  late.reset();
  CHECK(raw.ListMultipartUploads("").empty());

  // The single-PutObject path is conditional too.
  const std::string small_name = "on-demand-n-1700000001";
  auto small_winner = store.Create(small_name);
  auto small_loser = store.Create(small_name);
  small_winner->Write("first");
  small_loser->Write("second");
  small_winner->Commit(RecordFor(small_name, "first"));
  RequireError([&] { small_loser->Commit(RecordFor(small_name, "second")); }, ErrorKind::kConflict,
               {"PutObject", "HTTP 412"});
  small_loser.reset();
  CHECK(ReadAll(*store.Open(small_name)) == "first");
  CHECK(store.List().size() == 2);
}

TEST_CASE("RemoveIncomplete aborts old uploads of snapshot names only", "[s3-integration]") {
  const std::string bucket = NewBucket("cleanup");
  S3Client raw(PeerOptions(bucket));
  raw.CreateMultipartUpload("f/etcd-snapshot-n-1700000000");
  raw.CreateMultipartUpload("f/.metadata/etcd-snapshot-n-1700000001");
  raw.CreateMultipartUpload("f/somebody-elses-file");
  raw.CreateMultipartUpload("g/etcd-snapshot-n-1700000002");
  raw.PutObject("f/.metadata/etcd-snapshot-n-1700000003", "{}");  // record without snapshot
  raw.PutObject("f/etcd-snapshot-n-1700000004", "kept");
  raw.PutObject("f/.metadata/etcd-snapshot-n-1700000004", "{}");

  S3StoreOptions options = StoreOptions(bucket, "f");
  CHECK(S3Store(options).RemoveIncomplete() == 0);  // all younger than 10 minutes
  CHECK(raw.ListMultipartUploads("").size() == 4);

  FixedClock later(system_clock::now() + hours(1));
  options.clock = &later;
  CHECK(S3Store(options).RemoveIncomplete() == 3);
  std::vector<std::string> left;
  for (const S3Upload& upload : raw.ListMultipartUploads("")) left.push_back(upload.key);
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"f/somebody-elses-file", "g/etcd-snapshot-n-1700000002"});
  CHECK(Keys(raw.ListAllObjects("f/")) ==
        std::vector<std::string>{"f/.metadata/etcd-snapshot-n-1700000004",
                                 "f/etcd-snapshot-n-1700000004"});
}

TEST_CASE("S3Store: a token backup is stored with its snapshot and goes with it",
          "[s3-integration]") {
  const std::string bucket = NewBucket("token");
  S3StoreOptions options = StoreOptions(bucket, "f");
  S3Store store(options);
  S3Client raw(PeerOptions(bucket));
  const std::string name = "etcd-snapshot-n-1700000000.zst.age";
  auto writer = store.Create(name);
  writer->Write("sealed snapshot");
  writer->SetTokenBackup("sealed token");
  SnapshotRecord stored = writer->Commit(RecordFor(name, "sealed snapshot"));
  CHECK(stored.token_backup);
  CHECK(stored.encrypted);
  CHECK(stored.compressed);
  CHECK(raw.GetSmallObject("f/.metadata/" + name + ".token.age") == "sealed token");
  CHECK(store.ReadTokenBackup(name) == "sealed token");
  // Not a snapshot of its own, and the listed record says it has one.
  std::vector<SnapshotRecord> listed = store.List();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].token_backup);
  CHECK(raw.HeadObject("f/" + name).content_type == "application/octet-stream");
  store.Remove(name);
  RequireError([&] { raw.HeadObject("f/.metadata/" + name + ".token.age"); }, ErrorKind::kNotFound,
               {"HTTP 404"});
  RequireError([&] { store.ReadTokenBackup(name); }, ErrorKind::kNotFound, {"404"});

  // An upload that fails takes its token backup with it; a stale orphan is swept.
  raw.PutObject("f/.metadata/etcd-snapshot-n-1700000001.age.token.age", "orphan");
  CHECK(S3Store(options).RemoveIncomplete() == 0);
  FixedClock later(system_clock::now() + hours(1));
  options.clock = &later;
  CHECK(S3Store(options).RemoveIncomplete() == 1);
  CHECK(raw.ListAllObjects("f/").empty());
}

// ---------------------------------------------------------------------------------------------
// S3Store's increments: the shared suite (tests/unit/store_increment_suite.h), each in a folder
// of its own, with no grace period (RemoveIncomplete would sweep what it took for leftovers)

namespace {

S3StoreOptions IncrementOptions(const std::string& bucket, const std::string& folder) {
  S3StoreOptions options = StoreOptions(bucket, folder);
  options.incomplete_grace = seconds(0);
  return options;
}

}  // namespace

TEST_CASE("S3Store increments: the store suite", "[s3-integration]") {
  const std::string bucket = NewBucket("increments");
  {
    S3Store store(IncrementOptions(bucket, "k3s/round-trip"));
    increment_suite::CheckRoundTrip(store);
  }
  {
    S3Store store(IncrementOptions(bucket, "k3s/overwrite"));
    increment_suite::CheckOverwriteIsAtomic(store, 12);
  }
  {
    S3Store store(IncrementOptions(bucket, "k3s/invalid"));
    increment_suite::CheckInvalidNames(store);
  }
  {
    S3Store store(IncrementOptions(bucket, "k3s/remove"));
    increment_suite::CheckRemoveTakesItsIncrements(store);
  }
  {
    S3Store store(IncrementOptions(bucket, "k3s/remove-many"));
    increment_suite::CheckRemoveManyTakesTheirIncrements(store);
  }
  {
    S3Store store(IncrementOptions(bucket, "k3s/list"));
    increment_suite::CheckListIgnoresIncrements(store);
  }
  // Nothing left the folders it was given.
  for (const std::string& key : Keys(S3Client(PeerOptions(bucket)).ListAllObjects(""))) {
    INFO(key);
    CHECK(key.starts_with("k3s/"));
    CHECK(key.find("escape") == std::string::npos);
  }
}

TEST_CASE("S3Store increments: keys directly under .metadata/, where k3s never lists",
          "[s3-integration]") {
  const std::string bucket = NewBucket("inc-keys");
  S3Client raw(PeerOptions(bucket));
  S3Store store(IncrementOptions(bucket, "/k3s//snapshots/"));
  const std::string snapshot = "etcd-snapshot-n1-1733000000.zip";
  increment_suite::SaveSnapshot(store, snapshot);
  const std::string name = snapshot + ".101-250-1733000300.inc.zst.age";
  const std::string bytes = increment_suite::BinaryBytes(70000, 9);
  store.PutIncrement(name, bytes);
  CHECK(raw.GetSmallObject("k3s/snapshots/.metadata/" + name) == bytes);
  CHECK(raw.HeadObject("k3s/snapshots/.metadata/" + name).size == bytes.size());
  // k3s lists every key under the folder but those whose parent directory is `.metadata`.
  std::vector<std::string> k3s_sees;
  for (const std::string& key : Keys(raw.ListAllObjects("k3s/snapshots/"))) {
    const std::string dir = key.substr(0, key.rfind('/'));
    if (dir.substr(dir.rfind('/') + 1) != ".metadata") k3s_sees.push_back(key);
  }
  CHECK(k3s_sees == std::vector<std::string>{"k3s/snapshots/" + snapshot});
  CHECK(Keys(raw.ListAllObjects("k3s/snapshots/.metadata/")) ==
        std::vector<std::string>{"k3s/snapshots/.metadata/" + snapshot,
                                 "k3s/snapshots/.metadata/" + name});

  // Keys deeper under .metadata/ are not increments of this folder; nor is a record.
  raw.PutObject("k3s/snapshots/.metadata/deeper/" + snapshot + ".1-2-3.inc", "deeper");
  raw.PutObject("k3s/snapshots/" + snapshot + ".1-2-3.inc", "beside the snapshots");
  CHECK(store.ListIncrements() == std::vector<std::string>{name});
  // Many increments, over one listing page (1000 keys), each found and removed with the base.
  std::vector<std::string> many;
  for (int i = 0; i < 1100; ++i) {
    many.push_back(snapshot + "." + std::to_string(1000 + i) + "-" + std::to_string(1000 + i) +
                   "-1733000400.inc");
  }
  ForEachInParallel(raw, many.size(), 16, [&](S3Client& c, size_t i) {
    c.PutObject("k3s/snapshots/.metadata/" + many[i], "i");
  });
  CHECK(store.ListIncrements().size() == many.size() + 1);
  const uint64_t before = store.counters()->requests.load();
  CHECK(store.RemoveMany({snapshot, "etcd-snapshot-n1-1733000001"}).empty());
  // One listing (two pages) and two DeleteObjects: not a listing per name.
  CHECK(store.counters()->requests.load() - before == 4);
  CHECK(store.ListIncrements().empty());
  CHECK(Keys(raw.ListAllObjects("k3s/snapshots/")) ==
        std::vector<std::string>{"k3s/snapshots/.metadata/deeper/" + snapshot + ".1-2-3.inc",
                                 "k3s/snapshots/" + snapshot + ".1-2-3.inc"});

  // At the bucket's top level: `.metadata/<name>`.
  S3Store top(IncrementOptions(bucket, ""));
  top.PutIncrement(name, "top");
  CHECK(raw.GetSmallObject(".metadata/" + name) == "top");
  CHECK(top.ListIncrements() == std::vector<std::string>{name});
  CHECK(top.List().empty());
}

TEST_CASE("awscli and rclone read what S3Store wrote", "[s3-integration]") {
  const std::string bucket = NewBucket("interop");
  const std::string folder = "snap shots/\xc3\xa9t\xc3\xa9";
  S3Store store(StoreOptions(bucket, folder));
  const std::string name = "etcd-snapshot-node-1-1700000000";
  const std::string data = RandomBytes(11 * kMiB + 3, 17);
  auto writer = store.Create(name);
  WriteInChunks(*writer, data, 18);
  writer->Commit(RecordFor(name, data));
  const std::string key = folder + "/" + name;
  const std::string endpoint_url = "http://" + Env("S3_ENDPOINT");

  const std::string dir = TempDir();

  if (HaveProgram("aws")) {
    const std::string aws = "env -u AWS_CA_BUNDLE -u AWS_PROFILE AWS_ACCESS_KEY_ID=" +
                            ShellQuote(Env("S3_ACCESS_KEY")) +
                            " AWS_SECRET_ACCESS_KEY=" + ShellQuote(Env("S3_SECRET_KEY")) +
                            " AWS_DEFAULT_REGION=" + ShellQuote(Env("S3_REGION")) +
                            " AWS_CONFIG_FILE=/dev/null aws --endpoint-url " + endpoint_url;
    CommandResult list = Run(aws + " s3api list-objects-v2 --output json --bucket " + bucket +
                             " --prefix " + ShellQuote(folder + "/"));
    INFO("aws list-objects-v2: " << list.output);
    REQUIRE(list.status == 0);
    nlohmann::json listing = nlohmann::json::parse(list.output);
    std::set<std::string> keys;
    for (const auto& entry : listing["Contents"]) keys.insert(entry["Key"].get<std::string>());
    CHECK(keys == std::set<std::string>{key, folder + "/.metadata/" + name});
    for (const auto& entry : listing["Contents"]) {
      if (entry["Key"] == key) CHECK(entry["Size"].get<uint64_t>() == data.size());
    }
    CommandResult get = Run(aws + " s3api get-object --bucket " + bucket + " --key " +
                            ShellQuote(key) + " " + ShellQuote(dir + "/aws.bin"));
    INFO("aws get-object: " << get.output);
    REQUIRE(get.status == 0);
    CHECK(ReadFile(dir + "/aws.bin") == data);
    nlohmann::json head = nlohmann::json::parse(get.output);
    CHECK(head["ContentType"] == "application/octet-stream");
    CHECK(head["Metadata"]["k3s-node-name"] == "node-1.example");
  } else {
    WARN("aws (awscli) not installed: its interoperability is not checked");
  }

  if (HaveProgram("rclone")) {
    const std::string rclone =
        "env -u AWS_CA_BUNDLE RCLONE_CONFIG=/dev/null RCLONE_CONFIG_X_TYPE=s3 "
        "RCLONE_CONFIG_X_PROVIDER=Ceph RCLONE_CONFIG_X_ENDPOINT=" +
        endpoint_url + " RCLONE_CONFIG_X_ACCESS_KEY_ID=" + ShellQuote(Env("S3_ACCESS_KEY")) +
        " RCLONE_CONFIG_X_SECRET_ACCESS_KEY=" + ShellQuote(Env("S3_SECRET_KEY")) +
        " RCLONE_CONFIG_X_REGION=" + ShellQuote(Env("S3_REGION")) + " rclone";
    CommandResult lsf = Run(rclone + " lsf " + ShellQuote("X:" + bucket + "/" + folder));
    INFO("rclone lsf: " << lsf.output);
    REQUIRE(lsf.status == 0);
    CHECK(lsf.output == ".metadata/\n" + name + "\n");
    CommandResult cat = Run(rclone + " cat " + ShellQuote("X:" + bucket + "/" + key) + " > " +
                            ShellQuote(dir + "/rclone.bin"));
    INFO("rclone cat: " << cat.output);
    REQUIRE(cat.status == 0);
    CHECK(ReadFile(dir + "/rclone.bin") == data);
  } else {
    WARN("rclone not installed: its interoperability is not checked");
  }
  std::remove((dir + "/aws.bin").c_str());
  std::remove((dir + "/rclone.bin").c_str());
  ::rmdir(dir.c_str());
}

// A temp dir standing for the daemon's state dir, removed with everything under it.
class TempStateDir {
 public:
  TempStateDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "s3-state.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempStateDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

TEST_CASE("S3Store journals each upload while it is open, and until its record is stored",
          "[s3-integration]") {
  const std::string bucket = NewBucket("journal");
  TempStateDir state;
  UploadJournal journal(state.path + "/uploads");
  S3StoreOptions options = StoreOptions(bucket, "f");
  options.journal = &journal;
  options.spill_dir = state.path;
  S3Store store(options);
  S3Client raw(PeerOptions(bucket));
  const std::string data = RandomBytes(11 * kMiB, 41);

  const std::string name = "etcd-snapshot-n-1700000100";
  auto writer = store.Create(name);
  WriteInChunks(*writer, data, 42);
  // The first part is on its way: its upload is journaled before it goes up (its key first,
  // then its id).
  const auto deadline = steady_clock::now() + seconds(60);
  std::vector<JournaledUpload> open;
  while (((open = journal.All()).empty() || open[0].upload_id.empty()) &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  REQUIRE(open.size() == 1);
  CHECK(open[0].snapshot == name);
  CHECK(open[0].bucket == bucket);
  CHECK(open[0].key == "f/" + name);
  CHECK_FALSE(open[0].record);
  std::vector<S3Upload> uploads = raw.ListMultipartUploads("");
  REQUIRE(uploads.size() == 1);
  CHECK(uploads[0].upload_id == open[0].upload_id);
  // The periodic sweep never aborts a journaled upload, however old it looks.
  FixedClock later(system_clock::now() + hours(1));
  S3StoreOptions sweeping = options;
  sweeping.clock = &later;
  CHECK(S3Store(sweeping).RemoveIncomplete() == 0);
  writer->Commit(RecordFor(name, data));
  CHECK(journal.All().empty());
  CHECK(raw.ListMultipartUploads("").empty());

  auto aborted = store.Create("etcd-snapshot-n-1700000101");
  WriteInChunks(*aborted, data, 43);
  aborted->Abort();
  CHECK(journal.All().empty());
  CHECK(raw.ListMultipartUploads("").empty());
}

TEST_CASE("RecoverJournaled settles what a killed daemon left in S3", "[s3-integration]") {
  const std::string bucket = NewBucket("recover");
  TempStateDir state;
  S3Client raw(PeerOptions(bucket));
  const std::string data = RandomBytes(6 * kMiB + 123, 51);
  auto record_of = [&](const std::string& name, const std::string& bytes) {
    SnapshotRecord record = RecordFor(name, bytes);
    record.storage = "s3";
    record.location = "s3://" + bucket + "/f/" + name;
    return record;
  };

  // Killed while parts went up: an open upload with one part.
  const std::string open_name = "etcd-snapshot-n-1700000200";
  const std::string open_id = raw.CreateMultipartUpload("f/" + open_name);
  raw.UploadPart("f/" + open_name, open_id, 1, std::string_view(data).substr(0, 5 * kMiB));
  // Killed between CompleteMultipartUpload and the record's PutObject: the object is whole.
  const std::string whole_name = "etcd-snapshot-n-1700000201";
  const std::string whole_id = raw.CreateMultipartUpload("f/" + whole_name);
  std::vector<S3Part> parts = {
      {1,
       raw.UploadPart("f/" + whole_name, whole_id, 1, std::string_view(data).substr(0, 5 * kMiB)),
       0},
      {2, raw.UploadPart("f/" + whole_name, whole_id, 2, std::string_view(data).substr(5 * kMiB)),
       0}};
  raw.CompleteMultipartUpload("f/" + whole_name, whole_id, parts);
  // The same moment, but the object does not read back as saved (and had a token backup).
  const std::string bad_name = "etcd-snapshot-n-1700000202";
  raw.PutObject("f/" + bad_name, data.substr(1));
  raw.PutObject("f/.metadata/" + TokenBackupName(bad_name), "sealed token");
  // Killed between CreateMultipartUpload and journaling its id: only the key was journaled.
  const std::string cut_name = "etcd-snapshot-n-1700000206";
  raw.CreateMultipartUpload("f/" + cut_name);
  // Killed after the record went up, before the journal heard of it.
  const std::string done_name = "etcd-snapshot-n-1700000203";
  raw.PutObject("f/" + done_name, "done");
  raw.PutObject("f/.metadata/" + done_name, RecordToMetadataJson(record_of(done_name, "done")));
  {
    UploadJournal dead(state.path + "/uploads");
    dead.Record({open_name, bucket, "f/" + open_name, open_id, std::nullopt});
    dead.Record({cut_name, bucket, "f/" + cut_name, "", std::nullopt});
    dead.Record({whole_name, bucket, "f/" + whole_name, whole_id, record_of(whole_name, data)});
    SnapshotRecord bad = record_of(bad_name, data);
    bad.token_backup = true;
    dead.Record({bad_name, bucket, "f/" + bad_name, "", bad});
    dead.Record({done_name, bucket, "f/" + done_name, "", record_of(done_name, "done")});
    dead.Record({"etcd-snapshot-n-1700000204", "another-bucket", "f/etcd-snapshot-n-1700000204",
                 "elsewhere", std::nullopt});
  }

  UploadJournal journal(state.path + "/uploads");  // the restarted daemon's
  // A save of the restarted daemon, under way: not a leftover.
  const std::string live_name = "etcd-snapshot-n-1700000205";
  const std::string live_id = raw.CreateMultipartUpload("f/" + live_name);
  journal.Record({live_name, bucket, "f/" + live_name, live_id, std::nullopt});

  S3StoreOptions options = StoreOptions(bucket, "f");
  options.journal = &journal;
  options.cluster_id = "cluster-1";
  S3Store store(options);
  CHECK(store.RecoverJournaled() == 4);

  // No grace: the open uploads are gone at once; the live one stays.
  std::vector<S3Upload> uploads = raw.ListMultipartUploads("");
  REQUIRE(uploads.size() == 1);
  CHECK(uploads[0].upload_id == live_id);
  // The whole object got its record, as the save would have written it.
  const std::vector<SnapshotRecord> listed = store.List();
  const SnapshotRecord* whole = Find(listed, whole_name);
  REQUIRE(whole != nullptr);
  CHECK(whole->status == "ready");
  CHECK(whole->sha256 == Sha256::HexOf(data));
  CHECK(whole->size == data.size());
  CHECK(whole->node == "node-1.example");
  S3ObjectHead record_head = raw.HeadObject("f/.metadata/" + whole_name);
  CHECK(record_head.content_type == "application/json");
  CHECK(record_head.metadata["k3s-snapd-sha256"] == Sha256::HexOf(data));
  CHECK(record_head.metadata["k3s-cluster-id"] == "cluster-1");
  // The one that did not match is gone, with its token backup; nothing else was touched.
  CHECK(Find(listed, bad_name) == nullptr);
  CHECK(Find(listed, done_name) != nullptr);
  CHECK(Keys(raw.ListAllObjects("f/")) ==
        std::vector<std::string>{"f/.metadata/" + whole_name, "f/.metadata/" + done_name,
                                 "f/" + whole_name, "f/" + done_name});
  // Settled entries are dropped; another bucket's stays for a daemon configured with it.
  std::vector<std::string> left;
  for (const JournaledUpload& entry : journal.All()) left.push_back(entry.snapshot);
  CHECK(left == std::vector<std::string>{"etcd-snapshot-n-1700000204", live_name});
  CHECK(store.RecoverJournaled() == 0);
  raw.AbortMultipartUpload("f/" + live_name, live_id);
}
