// Streams one object into S3 with flat memory: the bytes go to an unlinked spool file (page
// cache, punched out once sent), full parts are uploaded from it by a few worker threads, and
// Write never waits for S3, so a slow or unreachable S3 never holds up the stream or the local
// copy written beside it. A stream that fits in one part becomes a single PutObject. On any
// failure, on Abort and on destruction without Complete, the multipart upload is aborted so no
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
#include "s3/part_spool.h"
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
  // Called just before CreateMultipartUpload: from then on an upload of the key may exist even
  // if its id never reaches us, so the key must be journaled durably by the time it returns
  // (a throw fails the upload before anything is created).
  std::function<void()> on_creating;
  // Called right after CreateMultipartUpload, before the first part goes up: the upload must be
  // journaled durably by the time it returns (a throw fails the upload, which is then aborted).
  std::function<void(const std::string& upload_id)> on_created;
  // Called once the multipart upload is completed or aborted, or its creation failed and S3
  // lists no upload of the key. Must not throw.
  std::function<void(const std::string& upload_id)> on_ended;
  // Called instead of on_ended when the abort failed: the upload may still be open, for the
  // journal's recovery to settle. Must not throw.
  std::function<void()> on_abort_failed;
  // Where parts wait for their upload: an unlinked file (O_TMPFILE) in this directory, so
  // memory stays flat at any concurrency and nothing is left after a crash. "" = /var/tmp.
  std::string spill_dir;
};

class S3UploadWriter final : public ByteSink {
 public:
  // Clones `client` for its own requests and its workers. Throws when the spool cannot be made.
  S3UploadWriter(const S3Client& client, S3UploadOptions options);
  ~S3UploadWriter() override;  // Abort() unless Complete() returned
  S3UploadWriter(const S3UploadWriter&) = delete;
  S3UploadWriter& operator=(const S3UploadWriter&) = delete;

  // Spools the bytes; never waits for S3. Throws the first failure of the upload (a part that
  // failed after its retries, CreateMultipartUpload, an object already there); then every
  // later call throws it again. The upload is aborted by Abort() or the destructor, so that a
  // caller streaming elsewhere too can finish that first.
  void Write(std::string_view chunk) override;

  // Also stops Complete's wait for the parts when set (the job's own cancel flag).
  void WatchCancel(const std::atomic<bool>* cancel) { job_cancel_ = cancel; }

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
  // The multipart upload's id once a worker created it; "" before and after it ended.
  std::string upload_id() const;
  int parts_uploaded() const;

 private:
  struct Part {
    int number = 0;
    uint64_t offset = 0;  // in the spool
    uint64_t size = 0;
  };

  void StartWorkers();
  // Queues the part that ends at `end` in the spool.
  void Dispatch(uint64_t end);
  // Waits on cv_ until `ready`; throws kCancelled when a cancel flag is set.
  void WaitLocked(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready);
  void WorkerLoop(S3Client& client);
  // On the first worker to get here: the existence check and CreateMultipartUpload. The others
  // wait for it. False when the upload failed or is stopping.
  bool EnsureCreated(S3Client& client);
  // The bytes at [offset, offset + size) of the spool as a request body, hashed.
  S3BodySource SpoolRange(uint64_t offset, uint64_t size) const;
  void StopWorkers();
  void ThrowIfFailedLocked();
  // Throws the failure that ended the upload, or kInvalidInput for `what` after an end.
  [[noreturn]] void ThrowEnded(const char* what);
  // Records the exception being handled as the upload's failure and stops the workers'
  // transfers.
  void RecordFailure() noexcept;
  // RecordFailure, then Abort.
  void Fail() noexcept;
  void AbortUpload() noexcept;
  // Throws kConflict naming `op` when the object is already there.
  void RefuseExistingObject(S3Client& client, const char* op);

  S3UploadOptions options_;
  std::unique_ptr<S3Client> client_;
  PartSpool spool_;
  std::atomic<bool> cancel_{false};  // stops the workers' transfers
  const std::atomic<bool>* job_cancel_ = nullptr;
  uint64_t initial_part_size_ = 0;
  uint64_t part_size_ = 0;   // of the part being spooled
  uint64_t part_start_ = 0;  // where it starts in the spool
  uint64_t written_ = 0;
  int next_part_ = 1;
  bool multipart_ = false;
  bool object_created_ = false;
  bool finished_ = false;  // completed or aborted

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Part> queue_;
  int pending_parts_ = 0;           // queued or being uploaded
  bool creating_ = false;           // a worker is creating the upload
  bool create_unanswered_ = false;  // CreateMultipartUpload was sent; its id never came back
  std::string upload_id_;           // guarded by mu_ while workers run
  std::vector<S3Part> done_parts_;
  std::exception_ptr failure_;
  bool stopping_ = false;
  bool aborted_ = false;
  std::vector<std::unique_ptr<S3Client>> worker_clients_;
  std::vector<std::thread> workers_;
};

}  // namespace snapd
