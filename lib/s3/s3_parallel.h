// Many small S3 requests at once: a bounded number of threads, each with its own client (one
// curl handle and its connections), share a list of items. Listing thousands of snapshots
// needs one GET or HEAD per uncached record; one after another they cost minutes.
#pragma once

#include <cstddef>
#include <functional>

#include "s3/s3_client.h"

namespace snapd {

// Calls `work(client, i)` once for each i in [0, count), on up to `concurrency` threads, each
// with a Clone() of `prototype` (its options and counters). `work` handles its own S3 errors;
// anything it throws stops the others from taking new items and is rethrown here after all
// threads ended. With one item or concurrency 1 it runs on the calling thread.
void ForEachInParallel(const S3Client& prototype, size_t count, int concurrency,
                       const std::function<void(S3Client& client, size_t index)>& work);

}  // namespace snapd
