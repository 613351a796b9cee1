// Aborts every multipart upload of one key and checks with a listing that none is left: Ceph
// RGW can bring an aborted upload back when one of its parts was still being written
// (ceph/ceph#60771), which is what a killed or cut-short uploader leaves behind.
#pragma once

#include <string>

#include "s3/s3_client.h"

namespace snapd {

// Aborts `known_id` (an upload of `key`; "" when its id never reached us), then every upload of
// exactly `key` that S3 still lists, again after a short wait while any is listed, until none
// is. The key must be the caller's own: snapshot names are unique per node and second.
// Returns how many aborts were sent. Throws kTransient when S3 still lists one after about 8 s,
// and S3's errors.
int AbortUploadsOfKey(S3Client& client, const std::string& key, const std::string& known_id);

}  // namespace snapd
