// EtcdDatastore: etcd's snapshot stream through the integrity check on its way to the sink.
#include "datastore/etcd_datastore.h"

namespace snapd {
namespace {

class CheckedSink final : public ByteSink {
 public:
  CheckedSink(SnapshotIntegrity& integrity, ByteSink& next) : integrity_(integrity), next_(next) {}

  void Write(std::string_view chunk) override {
    integrity_.Write(chunk);
    next_.Write(chunk);
  }

 private:
  SnapshotIntegrity& integrity_;
  ByteSink& next_;
};

}  // namespace

DatastoreSnapshot EtcdDatastore::Snapshot(ByteSink& sink, const std::atomic<bool>* cancel,
                                          const std::function<void(uint64_t)>& on_size) {
  SnapshotIntegrity integrity;
  CheckedSink checked(integrity, sink);
  etcd_.Snapshot(checked, cancel, on_size);
  DatastoreSnapshot snapshot;
  snapshot.digest = integrity.Finish();
  return snapshot;
}

}  // namespace snapd
