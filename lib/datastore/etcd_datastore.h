// An etcd cluster member as a Datastore: its snapshot stream, checked against the SHA-256
// trailer etcd appends as it arrives.
#pragma once

#include "datastore/datastore.h"
#include "etcd/etcd_client.h"

namespace snapd {

class EtcdDatastore final : public Datastore {
 public:
  // `etcd` must outlive this; `url` is what status shows.
  EtcdDatastore(EtcdClient& etcd, std::string url) : etcd_(etcd), url_(std::move(url)) {}

  std::string_view Kind() const override { return "etcd"; }
  std::string Location() const override { return url_; }
  DatastoreSnapshot Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                             const std::function<void(uint64_t)>& on_size) override;

 private:
  EtcdClient& etcd_;
  std::string url_;
};

}  // namespace snapd
