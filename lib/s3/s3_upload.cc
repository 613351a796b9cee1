// S3UploadWriter: part buffers, worker threads and the multipart upload's life cycle.
#include "s3/s3_upload.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/digest.h"
#include "core/error.h"
#include "s3/key_upload_abort.h"

namespace snapd {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr int kPartsPerDoubling = 900;
// Aborting must not wait on a cancelled job nor for the full operation timeout.
constexpr std::chrono::seconds kAbortTimeout{60};
constexpr std::chrono::milliseconds kCancelPoll{100};
constexpr std::chrono::seconds kFindCutTimeout{5};

}  // namespace

uint64_t InitialPartSize(uint64_t size_hint) {
  uint64_t per_part = (size_hint + 8999) / 9000;
  per_part = (per_part + kMiB - 1) / kMiB * kMiB;
  return std::clamp(per_part, kS3DefaultPartSize, kS3MaxPartSize);
}

uint64_t PartSizeFor(int number, uint64_t initial) {
  uint64_t size = std::clamp(initial, kS3MinPartSize, kS3MaxPartSize);
  for (int doubled = 0; doubled < (number - 1) / kPartsPerDoubling && size < kS3MaxPartSize;
       ++doubled) {
    size *= 2;
  }
  return std::min(size, kS3MaxPartSize);
}

S3UploadWriter::S3UploadWriter(const S3Client& client, S3UploadOptions options)
    : options_(std::move(options)), client_(client.Clone()), spool_(options_.spill_dir) {
  if (options_.key.empty()) throw Error::InvalidInput("S3 upload: empty key");
  options_.concurrency = std::clamp(options_.concurrency, 1, 64);
  initial_part_size_ = options_.initial_part_size > 0
                           ? std::clamp(options_.initial_part_size, kS3MinPartSize, kS3MaxPartSize)
                           : InitialPartSize(options_.size_hint);
  part_size_ = PartSizeFor(1, initial_part_size_);
}

S3UploadWriter::~S3UploadWriter() {
  Abort();
}

int S3UploadWriter::parts_uploaded() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(done_parts_.size());
}

std::string S3UploadWriter::upload_id() const {
  std::lock_guard lock(mu_);
  return upload_id_;
}

void S3UploadWriter::ThrowIfFailedLocked() {
  if (failure_) std::rethrow_exception(failure_);
}

void S3UploadWriter::ThrowEnded(const char* what) {
  {
    std::lock_guard lock(mu_);
    ThrowIfFailedLocked();
  }
  throw Error::InvalidInput("S3 upload " + client_->Location(options_.key) + ": " + what +
                            " after the upload ended");
}

void S3UploadWriter::RecordFailure() noexcept {
  {
    std::lock_guard lock(mu_);
    if (!failure_) failure_ = std::current_exception();
  }
  cancel_.store(true);
  cv_.notify_all();
}

void S3UploadWriter::Fail() noexcept {
  RecordFailure();
  Abort();
}

void S3UploadWriter::Write(std::string_view chunk) {
  if (finished_) ThrowEnded("write");
  try {
    {
      std::lock_guard lock(mu_);
      ThrowIfFailedLocked();
    }
    spool_.Append(chunk);
    written_ += chunk.size();
    // A full part goes out only once more data arrives: a stream that ends exactly at one part
    // still becomes a single PutObject.
    while (written_ - part_start_ > part_size_) Dispatch(part_start_ + part_size_);
  } catch (...) {
    // The network abort is left to Abort(), which the caller runs once the stream no longer
    // waits on it.
    RecordFailure();
    throw;
  }
}

void S3UploadWriter::StartWorkers() {
  multipart_ = true;
  S3ClientOptions worker_options = client_->options();
  worker_options.cancel = &cancel_;
  for (int i = 0; i < options_.concurrency; ++i) {
    worker_clients_.push_back(std::make_unique<S3Client>(worker_options, client_->counters()));
  }
  for (auto& worker_client : worker_clients_) {
    workers_.emplace_back([this, c = worker_client.get()] { WorkerLoop(*c); });
  }
}

void S3UploadWriter::Dispatch(uint64_t end) {
  if (next_part_ > kS3MaxParts) {
    throw Error::InvalidInput("S3 upload " + client_->Location(options_.key) + ": more than " +
                              std::to_string(kS3MaxParts) + " parts");
  }
  if (!multipart_) StartWorkers();
  {
    std::lock_guard lock(mu_);
    queue_.push_back({next_part_++, part_start_, end - part_start_});
    ++pending_parts_;
  }
  cv_.notify_all();
  part_start_ = end;
  part_size_ = PartSizeFor(next_part_, initial_part_size_);
}

void S3UploadWriter::WaitLocked(std::unique_lock<std::mutex>& lock,
                                const std::function<bool()>& ready) {
  // The workers' transfers watch only this upload's own flag: the caller's flags (daemon
  // shutdown, the job's cancel) are watched here, by the thread that waits on them.
  const std::atomic<bool>* stop = client_->options().cancel;
  while (!cv_.wait_for(lock, kCancelPoll, ready)) {
    if ((stop != nullptr && stop->load()) || (job_cancel_ != nullptr && job_cancel_->load())) {
      throw Error::Cancelled("S3 upload " + client_->Location(options_.key) + ": cancelled");
    }
  }
}

S3BodySource S3UploadWriter::SpoolRange(uint64_t offset, uint64_t size) const {
  constexpr size_t kHashChunk = 64 << 10;  // small: one per worker, whatever the part size
  std::string buffer(static_cast<size_t>(std::min<uint64_t>(kHashChunk, size)), '\0');
  Sha256 hash;
  for (uint64_t done = 0; done < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - done));
    spool_.ReadAt(offset + done, buffer.data(), n);
    hash.Update(std::string_view(buffer.data(), n));
    done += n;
  }
  S3BodySource body;
  body.size = size;
  body.sha256_hex = DigestHex(hash.Finish());
  body.read_at = [this, offset](uint64_t at, char* out, size_t n) {
    spool_.ReadAt(offset + at, out, n);
  };
  return body;
}

bool S3UploadWriter::EnsureCreated(S3Client& client) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return failure_ || aborted_ || !upload_id_.empty() || !creating_; });
  if (failure_ || aborted_) return false;
  if (!upload_id_.empty()) return true;
  creating_ = true;
  lock.unlock();
  std::string id;
  bool sent = false;
  std::exception_ptr failed;
  try {
    if (options_.put.if_none_match) RefuseExistingObject(client, "CreateMultipartUpload");
    if (options_.on_creating) options_.on_creating();
    sent = true;
    id = client.CreateMultipartUpload(options_.key, options_.put);
    // Journaled before any part goes up: a crash from here on leaves an upload the next
    // start finds and aborts.
    if (options_.on_created) options_.on_created(id);
  } catch (...) {
    failed = std::current_exception();
  }
  lock.lock();
  creating_ = false;
  // Cut by Abort, timed out, or failed after S3 acted on it: S3 may have created an upload
  // whose id never reached us.
  if (id.empty() && sent) create_unanswered_ = true;
  // Kept even when failed or aborted meanwhile: Abort then removes the upload.
  if (!id.empty()) upload_id_ = id;
  if (failed) {
    if (!failure_ && !aborted_) failure_ = failed;
    cancel_.store(true);
  }
  const bool go = !failure_ && !aborted_;
  lock.unlock();
  cv_.notify_all();
  return go;
}

void S3UploadWriter::WorkerLoop(S3Client& client) {
  if (!EnsureCreated(client)) return;
  const std::string id = upload_id();
  for (;;) {
    Part part;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return failure_ || aborted_ || stopping_ || !queue_.empty(); });
      if (failure_ || aborted_ || queue_.empty()) return;
      part = queue_.front();
      queue_.pop_front();
    }
    try {
      if (options_.before_part) options_.before_part(part.number);
      std::string etag =
          client.UploadPart(options_.key, id, part.number, SpoolRange(part.offset, part.size));
      spool_.Release(part.offset, part.size);
      std::lock_guard lock(mu_);
      done_parts_.push_back({part.number, std::move(etag), part.size});
      --pending_parts_;
    } catch (...) {
      std::lock_guard lock(mu_);
      // After Abort the workers' transfers fail as cancelled: that is no failure of the upload.
      if (!failure_ && !aborted_) failure_ = std::current_exception();
      --pending_parts_;
      cancel_.store(true);  // the other workers' transfers stop at once
    }
    cv_.notify_all();
  }
}

void S3UploadWriter::StopWorkers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
  worker_clients_.clear();
}

S3ObjectHead S3UploadWriter::Complete(const std::map<std::string, std::string>& late_metadata) {
  if (finished_) ThrowEnded("Complete");
  const std::string location = client_->Location(options_.key);
  try {
    {
      std::lock_guard lock(mu_);
      ThrowIfFailedLocked();
    }
    if (!multipart_) {
      // If-None-Match on the PutObject itself keeps an existing object (RGW honours it there).
      S3PutOptions put = options_.put;
      for (const auto& [name, value] : late_metadata) put.metadata[name] = value;
      client_->PutObject(options_.key, SpoolRange(0, written_), put);
    } else {
      if (written_ > part_start_) Dispatch(written_);
      {
        std::unique_lock lock(mu_);
        WaitLocked(lock, [&] { return failure_ || pending_parts_ == 0; });
      }
      StopWorkers();
      std::vector<S3Part> parts;
      std::string id;
      {
        std::lock_guard lock(mu_);
        ThrowIfFailedLocked();
        parts = done_parts_;
        id = upload_id_;
      }
      std::sort(parts.begin(), parts.end(),
                [](const S3Part& a, const S3Part& b) { return a.number < b.number; });
      if (static_cast<int>(parts.size()) != next_part_ - 1 || id.empty()) {
        throw Error::Permanent("S3 upload " + location + ": " + std::to_string(parts.size()) +
                               " of " + std::to_string(next_part_ - 1) + " parts uploaded");
      }
      if (options_.put.if_none_match) RefuseExistingObject(*client_, "CompleteMultipartUpload");
      try {
        client_->CompleteMultipartUpload(options_.key, id, parts, options_.put.if_none_match);
      } catch (const Error& e) {
        // A retried Complete whose first try went through finds the upload gone: the object
        // tells whether it was ours.
        if (e.kind() != ErrorKind::kNotFound) throw;
        S3ObjectHead head = client_->HeadObject(options_.key);
        if (head.size != written_) throw;
      }
      {
        std::lock_guard lock(mu_);
        upload_id_.clear();  // completed: nothing left to abort
      }
      if (options_.on_ended) options_.on_ended(id);
    }
    object_created_ = true;
  } catch (...) {
    Fail();
    throw;
  }
  finished_ = true;
  S3ObjectHead head = client_->HeadObject(options_.key);
  if (head.size != written_) {
    throw Error::Corrupt("S3 upload " + location + ": the object holds " +
                         std::to_string(head.size) + " bytes but " + std::to_string(written_) +
                         " were written");
  }
  return head;
}

void S3UploadWriter::RefuseExistingObject(S3Client& client, const char* op) {
  // Servers that ignore If-None-Match (Ceph RGW before Squid) would replace an object that is
  // there or appeared since the upload started: look first, and again before completing.
  try {
    client.HeadObject(options_.key);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return;
    throw;
  }
  throw Error::Conflict("S3 " + std::string(op) + " " + client.Location(options_.key) +
                        ": the object already exists");
}

void S3UploadWriter::AbortUpload() noexcept {
  std::string id;
  bool unanswered = false;
  {
    std::lock_guard lock(mu_);
    id = std::move(upload_id_);
    upload_id_.clear();
    unanswered = create_unanswered_;
  }
  if (id.empty() && !unanswered) return;
  try {
    S3ClientOptions abort_options = client_->options();
    abort_options.cancel = nullptr;  // even a cancelled job cleans up after itself
    // Without an id, briefly: S3 is likely failing, the journal's recovery settles the key
    // later, and a cancel must not wait for S3's retries.
    abort_options.operation_timeout = std::min<std::chrono::milliseconds>(
        abort_options.operation_timeout,
        id.empty() ? std::chrono::milliseconds(kFindCutTimeout) : kAbortTimeout);
    S3Client aborter(abort_options, client_->counters());
    AbortUploadsOfKey(aborter, options_.key, id);
  } catch (const std::exception& e) {
    spdlog::warn("could not abort the incomplete upload of {} (settled by the next cleanup): {}",
                 client_->Location(options_.key), e.what());
    if (options_.on_abort_failed) options_.on_abort_failed();
    return;
  }
  if (options_.on_ended) options_.on_ended(id);
}

void S3UploadWriter::Abort() noexcept {
  if (finished_) return;
  finished_ = true;
  {
    std::lock_guard lock(mu_);
    aborted_ = true;
    queue_.clear();
  }
  cancel_.store(true);
  StopWorkers();
  AbortUpload();
}

}  // namespace snapd
