// s3-bulk: plants many snapshots (object + k3s-snapd record) in an S3 folder with parallel
// signed PUTs, and times a listing of the folder and its .metadata/ with the daemon's own S3
// client: the baseline the listing tests and scripts/bench compare `snapctl ls` against.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "s3/s3_client.h"
#include "s3/s3_parallel.h"
#include "snapshot/snapshot_record.h"
#include "store/s3_store.h"

namespace snapd {
namespace {

constexpr const char* kUsage = R"(usage:
  s3-bulk plant FOLDER COUNT [NODE [FIRST_UNIX [SIZE [CONCURRENCY]]]]
      puts COUNT snapshots etcd-snapshot-NODE-<FIRST_UNIX+i> of SIZE bytes (default 64), each
      with its record in FOLDER/.metadata/, CONCURRENCY (default 32) requests at a time
  s3-bulk list FOLDER [ROUNDS]
      lists FOLDER/ and FOLDER/.metadata/ (as k3s-snapd does) ROUNDS times (default 3); prints
      {"objects":N,"records":M,"seconds":S} with S the fastest round
The S3 peer comes from S3_ENDPOINT (http), S3_BUCKET, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY.
)";

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    std::cerr << "s3-bulk: " << name << " is not set\n";
    std::exit(2);
  }
  return value;
}

S3Client Client() {
  S3ClientOptions options;
  options.endpoint = Env("S3_ENDPOINT");
  options.bucket = Env("S3_BUCKET");
  options.region = Env("S3_REGION");
  options.insecure = true;
  options.bucket_lookup = BucketLookup::kPath;
  options.credentials = {Env("S3_ACCESS_KEY"), Env("S3_SECRET_KEY"), ""};
  return S3Client(options);
}

int Plant(const std::string& folder, int count, const std::string& node, int64_t first, size_t size,
          int concurrency) {
  S3Client client = Client();
  const std::string body(size, 'x');
  const std::string sha = Sha256::HexOf(body);
  ForEachInParallel(client, static_cast<size_t>(count), concurrency, [&](S3Client& c, size_t i) {
    SnapshotRecord r;
    r.name = "etcd-snapshot-" + node + "-" + std::to_string(first + static_cast<int64_t>(i));
    r.node = node;
    r.storage = "s3";
    r.location = c.Location(S3SnapshotKey(folder, r.name));
    r.size = size;
    r.sha256 = sha;
    r.created_at = first + static_cast<int64_t>(i);
    S3PutOptions put;
    put.metadata = S3RecordMetadata(r, "");
    c.PutObject(S3SnapshotKey(folder, r.name), body, put);
    put.content_type = "application/json";
    c.PutObject(S3MetadataKey(folder, r.name), RecordToMetadataJson(r), put);
  });
  std::cout << "{\"planted\":" << count << "}\n";
  return 0;
}

int List(const std::string& folder, int rounds) {
  S3Client client = Client();
  const std::string prefix = S3SnapshotKey(folder, "");
  const std::string metadata_prefix = S3MetadataKey(folder, "");
  double best = 1e9;
  size_t objects = 0, records = 0;
  for (int round = 0; round < rounds; ++round) {
    auto start = std::chrono::steady_clock::now();
    objects = client.ListAllObjects(prefix, "/").size();
    records = client.ListAllObjects(metadata_prefix, "/").size();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::cout << "{\"objects\":" << objects << ",\"records\":" << records << ",\"seconds\":" << best
            << "}\n";
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 3 && args.size() <= 7 && args[0] == "plant") {
    return Plant(args[1], std::stoi(args[2]), args.size() > 3 ? args[3] : "bulk-node",
                 args.size() > 4 ? std::stoll(args[4]) : 1700000000,
                 args.size() > 5 ? std::stoul(args[5]) : 64,
                 args.size() > 6 ? std::stoi(args[6]) : 32);
  }
  if (args.size() >= 2 && args.size() <= 3 && args[0] == "list") {
    return List(args[1], args.size() > 2 ? std::stoi(args[2]) : 3);
  }
  std::cerr << kUsage;
  return 2;
}

}  // namespace
}  // namespace snapd

int main(int argc, char** argv) {
  try {
    return snapd::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "s3-bulk: " << e.what() << "\n";
    return 1;
  }
}
