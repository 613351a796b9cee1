// The configuration key table and lookups over it.
#include "config/config_schema.h"

#include <algorithm>
#include <array>
#include <vector>

#include "config/config_value.h"

namespace snapd {
namespace {

using VC = ValueCheck;
constexpr bool kSecret = true;
constexpr bool kPlain = false;

// name, field, default, k3s key, env fallback, secret, choices, check, description
const std::array kConfigKeys = std::to_array<ConfigKey>({
    {"k3s-config", Top(&Config::k3s_config), "/etc/rancher/k3s/config.yaml", "", "", kPlain, "",
     VC::kAbsolutePathOrNone,
     "k3s's config file: it and its config.yaml.d/*.yaml are the lowest layer, below our "
     "drop-ins and flags; \"none\" skips it"},
    {"data-dir", Top(&Config::data_dir), "/var/lib/rancher/k3s", "data-dir", "", kPlain, "",
     VC::kAbsolutePath, "k3s data directory; the other paths default to files under it"},
    {"etcd-snapshot-dir", Top(&Config::snapshot_dir), "${data-dir}/server/db/snapshots",
     "etcd-snapshot-dir", "", kPlain, "", VC::kAbsolutePath, "directory of local snapshots"},
    {"etcd-snapshot-schedule-cron", Top(&Config::snapshot_schedule_cron), "0 */12 * * *",
     "etcd-snapshot-schedule-cron", "", kPlain, "", VC::kNone,
     "when scheduled snapshots are taken (cron, local time)"},
    {"etcd-snapshot-retention", Top(&Config::snapshot_retention), "5", "etcd-snapshot-retention",
     "", kPlain, "", VC::kNonNegative, "scheduled local snapshots to keep; 0 disables pruning"},
    {"etcd-snapshot-keep-hourly", Top(&Config::snapshot_keep_hourly), "0", "", "", kPlain, "",
     VC::kNonNegative,
     "also keep the newest scheduled snapshot of each of the N latest hours; 0: off"},
    {"etcd-snapshot-keep-daily", Top(&Config::snapshot_keep_daily), "0", "", "", kPlain, "",
     VC::kNonNegative,
     "also keep the newest scheduled snapshot of each of the N latest days; 0: off"},
    {"etcd-snapshot-keep-weekly", Top(&Config::snapshot_keep_weekly), "0", "", "", kPlain, "",
     VC::kNonNegative,
     "also keep the newest scheduled snapshot of each of the N latest ISO weeks; 0: off"},
    {"etcd-snapshot-keep-monthly", Top(&Config::snapshot_keep_monthly), "0", "", "", kPlain, "",
     VC::kNonNegative,
     "also keep the newest scheduled snapshot of each of the N latest months; 0: off"},
    {"etcd-snapshot-name", Top(&Config::snapshot_name), "etcd-snapshot", "etcd-snapshot-name", "",
     kPlain, "", VC::kNamePrefix, "name prefix of scheduled snapshots"},
    {"etcd-disable-snapshots", Top(&Config::disable_snapshots), "false", "etcd-disable-snapshots",
     "", kPlain, "", VC::kNone, "take no scheduled snapshots (on-demand ones still work)"},
    {"etcd-snapshot-compress", Top(&Config::snapshot_compress), "false", "etcd-snapshot-compress",
     "", kPlain, "", VC::kNone,
     "compress snapshots as k3s does (zip); see etcd-snapshot-compression"},
    {"etcd-snapshot-verify-contents", Top(&Config::snapshot_verify_contents), "true", "", "",
     kPlain, "", VC::kNone,
     "prove each etcd snapshot holds the cluster's key space (its HashKV against etcd's) before "
     "it is listed"},
    {"etcd-snapshot-incremental-interval", Top(&Config::snapshot_incremental_interval), "0s", "",
     "", kPlain, "", VC::kNonNegative,
     "between full snapshots, write etcd's changes to every store this often (point-in-time "
     "recovery); 0: off"},
    {"etcd-snapshot-compression", Top(&Config::snapshot_compression), "", "", "", kPlain,
     "none|zip|zstd", VC::kNone,
     "none, zip (k3s's format) or zstd (faster, smaller); \"\" follows etcd-snapshot-compress"},
    {"etcd-snapshot-encryption-recipients", Top(&Config::encryption_recipients), "", "", "", kPlain,
     "", VC::kAgeRecipients,
     "age recipients (age1...) that snapshots and the token are encrypted to; \"\" for none"},
    {"etcd-snapshot-encryption-identity-file", Top(&Config::encryption_identity_file), "", "", "",
     kPlain, "", VC::kOptionalAbsolutePath,
     "age identity file (AGE-SECRET-KEY-...) that verify and restore decrypt with"},
    {"etcd-transport", Top(&Config::etcd_transport), "auto", "", "", kPlain, "auto|grpc|gateway",
     VC::kNone,
     "how snapshots are read: native gRPC (as etcdctl), the gRPC-gateway, or auto (gRPC when "
     "etcd answers it)"},
    {"etcd-stall-timeout", Top(&Config::etcd_stall_timeout), "1m", "", "", kPlain, "",
     VC::kPositive,
     "a snapshot stream from etcd that stalls (under a byte a second) this long fails"},
    {"datastore-endpoint", Top(&Config::datastore_endpoint), "", "datastore-endpoint", "", kSecret,
     "", VC::kNone,
     "what snapshots are taken from, as k3s reads this key: \"\" = k3s's embedded datastore "
     "(SQLite when ${data-dir}/server/db/state.db exists and server/db/etcd does not, else etcd "
     "at etcd-endpoint), sqlite://PATH, or http(s)://HOST:PORT for an external etcd"},
    {"etcd-endpoint", Top(&Config::etcd_endpoint), "https://127.0.0.1:2379", "", "", kPlain, "",
     VC::kHttpUrl, "etcd client URL (its gRPC gateway serves snapshots)"},
    {"etcd-cacert", Top(&Config::etcd_cacert), "${data-dir}/server/tls/etcd/server-ca.crt", "", "",
     kPlain, "", VC::kNone, "CA file that signed etcd's server certificate; \"\" for none"},
    {"etcd-cert", Top(&Config::etcd_cert), "${data-dir}/server/tls/etcd/client.crt", "", "", kPlain,
     "", VC::kNone, "etcd client certificate file; \"\" for none"},
    {"etcd-key", Top(&Config::etcd_key), "${data-dir}/server/tls/etcd/client.key", "", "", kPlain,
     "", VC::kNone, "etcd client key file; \"\" for none"},
    {"node-name", Top(&Config::node_name), "(host name)", "node-name", "", kPlain, "",
     VC::kNodeName, "node name put in snapshot names and records"},
    {"token", Top(&Config::token), "", "token", "", kSecret, "", VC::kNone,
     "k3s server token, for the token hash of snapshot records; overrides token-file"},
    {"token-file", Top(&Config::token_file), "${data-dir}/server/token", "token-file", "", kPlain,
     "", VC::kNone, "file holding the k3s server token, read when token is not set"},
    {"control-socket", Top(&Config::control_socket), "/run/k3s-snapd/snapd.sock", "", "", kPlain,
     "", VC::kNone, "UNIX socket of the control API used by snapctl"},
    {"control-socket-group", Top(&Config::control_socket_group), "", "", "", kPlain, "", VC::kGroup,
     "group owning the control socket (name or number); \"\" for the daemon's"},
    {"control-socket-group-access", Top(&Config::control_socket_group_access), "read", "", "",
     kPlain, "read|write", VC::kNone,
     "what members of the control socket's group may do: read (status, ls, verify) or write "
     "(save, delete, prune, restore, cancel too)"},
    {"metrics-address", Top(&Config::metrics_address), "", "", "", kPlain, "", VC::kHostPort,
     "host:port serving /metrics and /healthz over TCP; \"\" turns it off"},
    {"log-level", Top(&Config::log_level), "info", "", "", kPlain, "trace|debug|info|warn|error",
     VC::kNone, "least severe level logged"},
    {"state-dir", Top(&Config::state_dir), "/var/lib/k3s-snapd", "", "STATE_DIRECTORY", kPlain, "",
     VC::kAbsolutePath,
     "private directory of the daemon's lock and journal of saves in progress (0700)"},
    {"etcd-s3", S3(&S3Config::enabled), "false", "etcd-s3", "", kPlain, "", VC::kNone,
     "also store snapshots in S3"},
    {"etcd-s3-endpoint", S3(&S3Config::endpoint), "s3.amazonaws.com", "etcd-s3-endpoint", "",
     kPlain, "", VC::kNone, "S3 endpoint host[:port], without scheme"},
    {"etcd-s3-endpoint-ca", S3(&S3Config::endpoint_ca), "", "etcd-s3-endpoint-ca", "", kPlain, "",
     VC::kNone, "space-separated PEM CA files (or base64 PEM) trusted for the endpoint"},
    {"etcd-s3-skip-ssl-verify", S3(&S3Config::skip_ssl_verify), "false", "etcd-s3-skip-ssl-verify",
     "", kPlain, "", VC::kNone, "do not verify the endpoint's TLS certificate"},
    {"etcd-s3-access-key", S3(&S3Config::access_key), "", "etcd-s3-access-key", "AWS_ACCESS_KEY_ID",
     kSecret, "", VC::kNone, "S3 access key ID"},
    {"etcd-s3-access-key-file", S3(&S3Config::access_key_file), "", "", "", kPlain, "",
     VC::kOptionalAbsolutePath, "file holding the S3 access key ID"},
    {"etcd-s3-secret-key", S3(&S3Config::secret_key), "", "etcd-s3-secret-key",
     "AWS_SECRET_ACCESS_KEY", kSecret, "", VC::kNone, "S3 secret access key"},
    {"etcd-s3-secret-key-file", S3(&S3Config::secret_key_file), "", "", "", kPlain, "",
     VC::kOptionalAbsolutePath, "file holding the S3 secret access key"},
    {"etcd-s3-session-token", S3(&S3Config::session_token), "", "etcd-s3-session-token",
     "AWS_SESSION_TOKEN", kSecret, "", VC::kNone, "S3 session token of temporary credentials"},
    {"etcd-s3-bucket", S3(&S3Config::bucket), "", "etcd-s3-bucket", "", kPlain, "", VC::kNone,
     "S3 bucket; required when etcd-s3 is true"},
    {"etcd-s3-bucket-lookup-type", S3(&S3Config::bucket_lookup_type), "auto",
     "etcd-s3-bucket-lookup-type", "", kPlain, "auto|dns|path", VC::kNone,
     "bucket in the host name (dns) or in the path (path); auto picks"},
    {"etcd-s3-region", S3(&S3Config::region), "us-east-1", "etcd-s3-region", "", kPlain, "",
     VC::kNone, "S3 region used for signing"},
    {"etcd-s3-folder", S3(&S3Config::folder), "", "etcd-s3-folder", "", kPlain, "", VC::kNone,
     "key prefix (folder) of snapshots in the bucket"},
    {"etcd-s3-retention", S3(&S3Config::retention), "5", "etcd-s3-retention", "", kPlain, "",
     VC::kNonNegative, "scheduled S3 snapshots to keep; 0 disables pruning"},
    {"etcd-s3-upload-by", S3(&S3Config::upload_by), "one-server", "", "", kPlain,
     "one-server|every-server", VC::kNone,
     "on a cluster of several etcd servers, which upload a scheduled run: one-server (claimed "
     "through etcd) or every-server (k3s's way)"},
    {"etcd-s3-proxy", S3(&S3Config::proxy), "", "etcd-s3-proxy", "", kPlain, "", VC::kNone,
     "proxy URL for S3; \"\" takes it from the environment, \"none\" disables"},
    {"etcd-s3-insecure", S3(&S3Config::insecure), "false", "etcd-s3-insecure", "", kPlain, "",
     VC::kNone, "use http instead of https"},
    {"etcd-s3-timeout", S3(&S3Config::timeout), "5m", "etcd-s3-timeout", "", kPlain, "",
     VC::kPositive, "time limit of each S3 operation (Go duration or seconds)"},
    {"etcd-s3-upload-concurrency", S3(&S3Config::upload_concurrency), "4", "", "", kPlain, "",
     VC::kPositiveInt, "multipart parts uploaded at once while the snapshot streams (1 to 64)"},
    {"etcd-s3-incomplete-upload-grace", S3(&S3Config::incomplete_upload_grace), "10m", "", "",
     kPlain, "", VC::kPositive,
     "age at which incomplete uploads this daemon did not journal are aborted as leftovers"},
});

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kString:
      return "string";
    case ValueType::kBool:
      return "bool";
    case ValueType::kInt:
      return "int";
    case ValueType::kDuration:
      return "duration";
  }
  return "unknown";
}

std::span<const ConfigKey> ConfigKeys() {
  return kConfigKeys;
}

const ConfigKey* FindConfigKey(std::string_view name) {
  for (const ConfigKey& key : kConfigKeys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

const ConfigKey* FindK3sConfigKey(std::string_view k3s_name) {
  // k3s's flags "data-dir,d" and "token,t": its config file may use the short names.
  if (k3s_name == "d") k3s_name = "data-dir";
  if (k3s_name == "t") k3s_name = "token";
  if (k3s_name.empty() || k3s_name == "etcd-disable-snapshots") return nullptr;
  for (const ConfigKey& key : kConfigKeys) {
    if (key.k3s_name == k3s_name) return &key;
  }
  return nullptr;
}

std::string_view ClosestConfigKey(std::string_view name) {
  constexpr std::size_t kMaxDistance = 2;
  std::string_view best;
  std::size_t best_distance = kMaxDistance + 1;
  for (const ConfigKey& key : kConfigKeys) {
    const std::size_t distance = EditDistance(name, key.name);
    if (distance < best_distance) {
      best = key.name;
      best_distance = distance;
    }
  }
  return best;
}

ValueType TypeOf(const ConfigKey& key) {
  return std::visit(
      [](const auto& field) {
        using T = std::decay_t<decltype(field.In(std::declval<const Config&>()))>;
        if constexpr (std::is_same_v<T, bool>) {
          return ValueType::kBool;
        } else if constexpr (std::is_same_v<T, int>) {
          return ValueType::kInt;
        } else if constexpr (std::is_same_v<T, std::chrono::seconds>) {
          return ValueType::kDuration;
        } else {
          return ValueType::kString;
        }
      },
      key.field);
}

std::string FormatConfigValue(const ConfigKey& key, const Config& config) {
  return std::visit(
      [&config](const auto& field) -> std::string {
        const auto& value = field.In(config);
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, bool>) {
          return value ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int>) {
          return std::to_string(value);
        } else if constexpr (std::is_same_v<T, std::chrono::seconds>) {
          return FormatConfigDuration(value);
        } else {
          return value;
        }
      },
      key.field);
}

}  // namespace snapd
