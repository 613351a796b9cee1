// Streams one object into S3 with bounded memory: bytes fill a part buffer, full parts are
// uploaded by a few worker threads while the stream keeps arriving, and Write blocks while all
// buffers are busy. A stream that fits in one part becomes a single PutObject. On any failure,
// on Abort and on destruction without Complete, the multipart upload is aborted so no
// incomplete upload is left behind.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/byte_sink.h"
#include "s3/s3_client.h"

namespace snapd {

inline constexpr uint64_t kS3MinPartSize = uint64_t{5} << 20;  // S3's floor for all but the last
inline constexpr uint64_t kS3MaxPartSize = uint64_t{5} << 30;  // S3's ceiling for any part
inline constexpr int kS3MaxParts = 10000;
inline constexpr uint64_t kS3DefaultPartSize = uint64_t{8} << 20;

// The first part size for a stream of about `size_hint` bytes (0: unknown): 8 MiB, or
// size_hint/9000 rounded up to whole MiB when that is larger, so an accurate hint needs at most
// 9000 parts.
uint64_t InitialPartSize(uint64_t size_hint);

// The size of part `number` (1-based) of a stream whose parts start at `initial` (at least
// 5 MiB): it doubles every 900 parts, up to 5 GiB, so 10,000 parts hold more than S3's 5 TiB
// object limit however wrong the hint (9.7 TiB from 5 MiB parts).
uint64_t PartSizeFor(int number, uint64_t initial);

struct S3UploadOptions {
  std::string key;
  S3PutOptions put;  // content type, metadata, and If-None-Match on the final write
  uint64_t size_hint = 0;
  int concurrency = 4;             // worker threads, each with its own connection
  uint64_t initial_part_size = 0;  // 0: InitialPartSize(size_hint); at least 5 MiB
  // Called by a worker before it uploads a part; a throw fails the upload (fault injection).
  std::function<void(int part_number)> before_part;
};

class S3UploadWriter final : public ByteSink {
 public:
  // Clones `client` for its own requests and its workers.
  S3UploadWriter(const S3Client& client, S3UploadOptions options);
  ~S3UploadWriter() override;  // Abort() unless Complete() returned
  S3UploadWriter(const S3UploadWriter&) = delete;
  S3UploadWriter& operator=(const S3UploadWriter&) = delete;

  // Blocks while every part buffer is busy. Throws the first failure (a part that failed after
  // its retries, or CreateMultipartUpload), having aborted the upload; then every later call
  // throws it again.
  void Write(std::string_view chunk) override;

  // Uploads the rest, completes the object and checks with HeadObject that it holds exactly the
  // bytes written (kCorrupt otherwise). `late_metadata` is added to the object's metadata when
  // it goes up as one PutObject (a multipart upload's metadata is fixed when it starts).
  // A failure aborts the upload and throws.
  S3ObjectHead Complete(const std::map<std::string, std::string>& late_metadata = {});

  // Stops the workers and aborts the multipart upload. Never throws; repeatable.
  void Abort() noexcept;

  uint64_t bytes_written() const { return written_; }
  bool multipart() const { return multipart_; }
  // True once the object exists (Complete got past PutObject or CompleteMultipartUpload), even
  // if the check after it failed: the caller then owns the object and its removal.
  bool object_created() const { return object_created_; }
  const std::string& upload_id() const { return upload_id_; }
  int parts_uploaded() const;

 private:
  struct Part {
    int number = 0;
    std::string data;
  };

  void StartMultipart();
  void Dispatch();
  // Waits on cv_ until `ready`; throws kCancelled when the client's cancel flag is set.
  void WaitLocked(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready);
  void WorkerLoop(S3Client& client);
  void StopWorkers();
  void ThrowIfFailedLocked();
  // Throws the failure that ended the upload, or kInvalidInput for `what` after an end.
  [[noreturn]] void ThrowEnded(const char* what);
  // Records the exception being handled as the upload's failure and aborts.
  void Fail() noexcept;
  void AbortUpload() noexcept;
  void RefuseExistingObject();

  S3UploadOptions options_;
  std::unique_ptr<S3Client> client_;
  std::atomic<bool> cancel_{false};  // stops the workers' transfers
  uint64_t initial_part_size_ = 0;
  uint64_t part_size_ = 0;
  uint64_t written_ = 0;
  std::string current_;
  int next_part_ = 1;
  std::string upload_id_;
  bool multipart_ = false;
  bool object_created_ = false;
  bool finished_ = false;  // completed or aborted

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Part> queue_;
  int busy_buffers_ = 0;  // queued or being uploaded
  std::vector<std::string> spare_buffers_;
  std::vector<S3Part> done_parts_;
  std::exception_ptr failure_;
  bool stopping_ = false;
  bool aborted_ = false;
  std::vector<std::unique_ptr<S3Client>> worker_clients_;
  std::vector<std::thread> workers_;
};

}  // namespace snapd
