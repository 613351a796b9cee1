// A private one-member etcd for the point-in-time replay: a base snapshot restored into a data
// dir of its own, run on free loopback ports, stopped and removed with this object.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace snapd {

struct ThrowawayEtcdOptions {
  std::string base_path;             // the plain snapshot to start from
  std::string work_dir;              // holds etcd-data and etcd.log while it runs
  std::string etcd_binary = "etcd";  // Debian's etcd-server
  std::string restore_tool;          // etcdutl or etcdctl; "" picks as RestoreEtcdDataDir does
  // Room for a big base and everything replayed on top (etcd's default is 2 GiB).
  uint64_t quota_backend_bytes = uint64_t{8} << 30;
};

class ThrowawayEtcd {
 public:
  explicit ThrowawayEtcd(ThrowawayEtcdOptions options);
  // Stops etcd and removes its data dir and log.
  ~ThrowawayEtcd();
  ThrowawayEtcd(const ThrowawayEtcd&) = delete;
  ThrowawayEtcd& operator=(const ThrowawayEtcd&) = delete;

  // Restores the base and runs etcd until it answers Status. A port taken between our probe and
  // etcd's bind makes etcd exit: it is tried again on other ports. Throws Error::NotFound when
  // the restore tool or etcd cannot be found, Error::Permanent (with the end of their output)
  // when they fail.
  void Start(const std::function<void(const std::string&)>& log);
  // SIGTERM, then SIGKILL after 10 s. Idempotent.
  void Stop();

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  pid_t pid() const { return pid_; }               // -1 when not running

 private:
  // One attempt on fresh ports; false when etcd exited before it answered.
  bool TryStart(const std::function<void(const std::string&)>& log);
  void Restore(const std::string& peer_url);
  std::string LogTail() const;
  void RemoveFiles();

  ThrowawayEtcdOptions options_;
  std::string data_dir_;
  std::string log_path_;
  std::string url_;
  pid_t pid_ = -1;
};

}  // namespace snapd
