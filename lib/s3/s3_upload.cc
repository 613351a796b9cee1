// S3UploadWriter: part buffers, worker threads and the multipart upload's life cycle.
#include "s3/s3_upload.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace snapd {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr int kPartsPerDoubling = 900;
// Aborting must not wait on a cancelled job nor for the full operation timeout.
constexpr std::chrono::seconds kAbortTimeout{60};
constexpr std::chrono::milliseconds kCancelPoll{100};

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
    : options_(std::move(options)), client_(client.Clone()) {
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

void S3UploadWriter::Fail() noexcept {
  {
    std::lock_guard lock(mu_);
    if (!failure_) failure_ = std::current_exception();
  }
  Abort();
}

void S3UploadWriter::Write(std::string_view chunk) {
  if (finished_) ThrowEnded("write");
  try {
    {
      std::lock_guard lock(mu_);
      ThrowIfFailedLocked();
    }
    while (!chunk.empty()) {
      // A full buffer goes out only once more data arrives: a stream that ends exactly at one
      // part still becomes a single PutObject.
      if (current_.size() >= part_size_) Dispatch();
      size_t room = static_cast<size_t>(part_size_ - current_.size());
      size_t n = std::min(room, chunk.size());
      if (current_.capacity() < part_size_) current_.reserve(part_size_);
      current_.append(chunk.data(), n);
      chunk.remove_prefix(n);
      written_ += n;
    }
  } catch (...) {
    Fail();
    throw;
  }
}

void S3UploadWriter::StartMultipart() {
  upload_id_ = client_->CreateMultipartUpload(options_.key, options_.put);
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

void S3UploadWriter::Dispatch() {
  if (next_part_ > kS3MaxParts) {
    throw Error::InvalidInput("S3 upload " + client_->Location(options_.key) + ": more than " +
                              std::to_string(kS3MaxParts) + " parts");
  }
  if (!multipart_) StartMultipart();
  std::string next;
  {
    std::unique_lock lock(mu_);
    WaitLocked(lock, [&] { return failure_ || busy_buffers_ < options_.concurrency; });
    ThrowIfFailedLocked();
    queue_.push_back({next_part_++, std::move(current_)});
    ++busy_buffers_;
    if (!spare_buffers_.empty()) {
      next = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
    }
  }
  cv_.notify_all();
  current_ = std::move(next);
  current_.clear();
  part_size_ = PartSizeFor(next_part_, initial_part_size_);
}

void S3UploadWriter::WaitLocked(std::unique_lock<std::mutex>& lock,
                                const std::function<bool()>& ready) {
  // The workers' transfers watch only this upload's own flag: the caller's cancel flag (daemon
  // shutdown) is watched here, by the thread that waits on them.
  const std::atomic<bool>* cancel = client_->options().cancel;
  while (!cv_.wait_for(lock, kCancelPoll, ready)) {
    if (cancel != nullptr && cancel->load()) {
      throw Error::Cancelled("S3 upload " + client_->Location(options_.key) + ": cancelled");
    }
  }
}

void S3UploadWriter::WorkerLoop(S3Client& client) {
  for (;;) {
    Part part;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return failure_ || stopping_ || !queue_.empty(); });
      if (failure_ || queue_.empty()) return;
      part = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      if (options_.before_part) options_.before_part(part.number);
      std::string etag = client.UploadPart(options_.key, upload_id_, part.number, part.data);
      std::lock_guard lock(mu_);
      done_parts_.push_back({part.number, std::move(etag), part.data.size()});
      --busy_buffers_;
      part.data.clear();
      spare_buffers_.push_back(std::move(part.data));
    } catch (...) {
      std::lock_guard lock(mu_);
      // After Abort the workers' transfers fail as cancelled: that is no failure of the upload.
      if (!failure_ && !aborted_) failure_ = std::current_exception();
      --busy_buffers_;
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
    if (!multipart_) {
      S3PutOptions put = options_.put;
      for (const auto& [name, value] : late_metadata) put.metadata[name] = value;
      client_->PutObject(options_.key, current_, put);
    } else {
      if (!current_.empty()) Dispatch();
      {
        std::unique_lock lock(mu_);
        WaitLocked(lock, [&] { return failure_ || busy_buffers_ == 0; });
      }
      StopWorkers();
      std::vector<S3Part> parts;
      {
        std::lock_guard lock(mu_);
        ThrowIfFailedLocked();
        parts = done_parts_;
      }
      std::sort(parts.begin(), parts.end(),
                [](const S3Part& a, const S3Part& b) { return a.number < b.number; });
      if (static_cast<int>(parts.size()) != next_part_ - 1) {
        throw Error::Permanent("S3 upload " + location + ": " + std::to_string(parts.size()) +
                               " of " + std::to_string(next_part_ - 1) + " parts uploaded");
      }
      if (options_.put.if_none_match) RefuseExistingObject();
      try {
        client_->CompleteMultipartUpload(options_.key, upload_id_, parts,
                                         options_.put.if_none_match);
      } catch (const Error& e) {
        // A retried Complete whose first try went through finds the upload gone: the object
        // tells whether it was ours.
        if (e.kind() != ErrorKind::kNotFound) throw;
        S3ObjectHead head = client_->HeadObject(options_.key);
        if (head.size != written_) throw;
      }
      upload_id_.clear();  // completed: nothing left to abort
    }
    object_created_ = true;
  } catch (...) {
    Fail();
    throw;
  }
  finished_ = true;
  current_ = std::string();
  S3ObjectHead head = client_->HeadObject(options_.key);
  if (head.size != written_) {
    throw Error::Corrupt("S3 upload " + location + ": the object holds " +
                         std::to_string(head.size) + " bytes but " + std::to_string(written_) +
                         " were written");
  }
  return head;
}

void S3UploadWriter::RefuseExistingObject() {
  // Servers that ignore If-None-Match on CompleteMultipartUpload (Ceph RGW before Squid) would
  // replace an object that appeared since the upload started: look first.
  try {
    client_->HeadObject(options_.key);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return;
    throw;
  }
  throw Error::Conflict("S3 CompleteMultipartUpload " + client_->Location(options_.key) +
                        ": the object already exists (written while this upload ran)");
}

void S3UploadWriter::AbortUpload() noexcept {
  if (upload_id_.empty()) return;
  try {
    S3ClientOptions abort_options = client_->options();
    abort_options.cancel = nullptr;  // even a cancelled job cleans up after itself
    abort_options.operation_timeout =
        std::min<std::chrono::milliseconds>(abort_options.operation_timeout, kAbortTimeout);
    S3Client aborter(abort_options, client_->counters());
    aborter.AbortMultipartUpload(options_.key, upload_id_);
  } catch (const std::exception& e) {
    spdlog::warn("could not abort the incomplete upload of {} (removed by the next cleanup): {}",
                 client_->Location(options_.key), e.what());
  }
  upload_id_.clear();
}

void S3UploadWriter::Abort() noexcept {
  if (finished_) return;
  finished_ = true;
  {
    std::lock_guard lock(mu_);
    aborted_ = true;
  }
  cancel_.store(true);
  StopWorkers();
  AbortUpload();
  current_ = std::string();
  std::lock_guard lock(mu_);
  queue_.clear();
  spare_buffers_.clear();
}

}  // namespace snapd
