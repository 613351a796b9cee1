// Benchmark for scripts/bench: streams one file into S3 through S3UploadWriter with the daemon's
// upload options (concurrency, part size chosen by the writer) and prints the seconds it took.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "s3/s3_client.h"
#include "s3/s3_upload.h"

namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr,
                 "usage: %s FILE KEY [CONCURRENCY]\n"
                 "S3 from S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY "
                 "(plain http)\n",
                 argv[0]);
    return 2;
  }
  try {
    snapd::S3ClientOptions client_options;
    client_options.endpoint = EnvOr("S3_ENDPOINT", "127.0.0.1:7480");
    client_options.bucket = EnvOr("S3_BUCKET", "snapshots");
    client_options.region = EnvOr("S3_REGION", "us-east-1");
    client_options.insecure = true;
    client_options.credentials.access_key_id = EnvOr("S3_ACCESS_KEY", "");
    client_options.credentials.secret_access_key = EnvOr("S3_SECRET_KEY", "");
    snapd::S3Client client(client_options);

    snapd::S3UploadOptions upload;
    upload.key = argv[2];
    upload.concurrency = argc == 4 ? std::atoi(argv[3]) : 4;  // the daemon's default
    // Like the daemon: no size hint, so the writer picks its default part size.

    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot open %s\n", argv[1]);
      return 1;
    }
    // The daemon hands the uploader 32 KiB pieces; so does this.
    std::vector<char> buffer(32 << 10);
    auto start = std::chrono::steady_clock::now();
    snapd::S3UploadWriter writer(client, std::move(upload));
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      std::streamsize n = in.gcount();
      if (n > 0) writer.Write(std::string_view(buffer.data(), static_cast<size_t>(n)));
    }
    snapd::S3ObjectHead head = writer.Complete();
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::printf("%.3f seconds, %llu bytes, %d parts\n", took.count(),
                static_cast<unsigned long long>(head.size), writer.parts_uploaded());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3-upload-bench: %s\n", e.what());
    return 1;
  }
}
