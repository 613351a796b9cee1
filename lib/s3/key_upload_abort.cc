// AbortUploadsOfKey: abort, list, and abort again after a pause while the key is still listed.
#include "s3/key_upload_abort.h"

#include <chrono>
#include <thread>

#include "core/error.h"

namespace snapd {
namespace {

// Pauses before each new round of aborts: time for a part that was being written to land
// (then the abort removes it for good). About 8 s in all.
constexpr std::chrono::milliseconds kPauses[] = {
    std::chrono::milliseconds(250), std::chrono::milliseconds(500), std::chrono::seconds(1),
    std::chrono::seconds(2), std::chrono::seconds(4)};

}  // namespace

int AbortUploadsOfKey(S3Client& client, const std::string& key, const std::string& known_id) {
  int sent = 0;
  if (!known_id.empty()) {
    client.AbortMultipartUpload(key, known_id);
    ++sent;
  }
  for (size_t round = 0;; ++round) {
    // Listed by prefix: a longer key that starts with ours is another snapshot's.
    std::vector<S3Upload> left;
    for (S3Upload& upload : client.ListMultipartUploads(key)) {
      if (upload.key == key) left.push_back(std::move(upload));
    }
    if (left.empty()) return sent;
    if (round == std::size(kPauses)) {
      throw Error::Transient("S3 still lists " + std::to_string(left.size()) + " upload(s) of " +
                             client.Location(key) + " after " + std::to_string(sent) + " abort(s)");
    }
    // Nothing aborted yet (the id never reached us): no part of these can be in flight.
    if (sent > 0) std::this_thread::sleep_for(kPauses[round]);
    for (const S3Upload& upload : left) {
      client.AbortMultipartUpload(key, upload.upload_id);
      ++sent;
    }
  }
}

}  // namespace snapd
