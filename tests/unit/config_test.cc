// Tests of lib/config: merging files, flags and environment; value parsing; validation;
// redaction; reading the config dir; the key table against docs/config-reference.md.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config_loader.h"
#include "config/config_schema.h"
#include "config/config_value.h"
#include "core/error.h"

using namespace snapd;
using namespace std::chrono_literals;

namespace {

ConfigInputs WithFiles(std::vector<ConfigFile> files, std::vector<std::string> flags = {}) {
  ConfigInputs inputs;
  inputs.files = std::move(files);
  inputs.flags = std::move(flags);
  inputs.hostname = "node-a";
  return inputs;
}

ConfigInputs WithFlags(std::vector<std::string> flags) {
  return WithFiles({}, std::move(flags));
}

// The message BuildConfig throws for `inputs`, or "" if it does not throw.
std::string ErrorOf(const ConfigInputs& inputs) {
  try {
    BuildConfig(inputs);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    return e.what();
  }
  return "";
}

std::string FileError(const std::string& text) {
  return ErrorOf(WithFiles({{"/etc/k3s-snapd.d/10-test.yaml", text}}));
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "config-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("defaults match the key table and k3s", "[config]") {
  ConfigInputs inputs;
  inputs.hostname = "host-1";
  const Config config = BuildConfig(inputs);
  CHECK(config.data_dir == "/var/lib/rancher/k3s");
  CHECK(config.snapshot_schedule_cron == "0 */12 * * *");
  CHECK(config.snapshot_retention == 5);
  CHECK(config.snapshot_name == "etcd-snapshot");
  CHECK_FALSE(config.disable_snapshots);
  CHECK(config.etcd_endpoint == "https://127.0.0.1:2379");
  CHECK(config.node_name == "host-1");
  CHECK(config.token.empty());
  CHECK(config.control_socket == "/run/k3s-snapd/snapd.sock");
  CHECK(config.log_level == "info");
  CHECK_FALSE(config.s3.enabled);
  CHECK(config.s3.endpoint == "s3.amazonaws.com");
  CHECK(config.s3.region == "us-east-1");
  CHECK(config.s3.bucket_lookup_type == "auto");
  CHECK(config.s3.retention == 5);
  CHECK(config.s3.timeout == 300s);
  CHECK(config.sources.empty());
  CHECK(config.SourceOf("data-dir") == "default");

  // The table's default text is what the struct really starts with.
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.default_text.starts_with("${") || key.default_text.starts_with("(")) continue;
    INFO(key.name);
    CHECK(FormatConfigValue(key, config) == key.default_text);
  }
}

TEST_CASE("paths default to files under data-dir", "[config]") {
  Config config = BuildConfig(WithFiles({}));
  CHECK(config.snapshot_dir == "/var/lib/rancher/k3s/server/db/snapshots");
  CHECK(config.etcd_cacert == "/var/lib/rancher/k3s/server/tls/etcd/server-ca.crt");
  CHECK(config.etcd_cert == "/var/lib/rancher/k3s/server/tls/etcd/client.crt");
  CHECK(config.etcd_key == "/var/lib/rancher/k3s/server/tls/etcd/client.key");
  CHECK(config.token_file == "/var/lib/rancher/k3s/server/token");

  config = BuildConfig(WithFlags({"--data-dir=/srv/k3s/"}));
  CHECK(config.snapshot_dir == "/srv/k3s/server/db/snapshots");
  CHECK(config.token_file == "/srv/k3s/server/token");
  CHECK(config.SourceOf("etcd-snapshot-dir") == "default");

  // A key set explicitly is not derived, and "" stays "" (no client certificate).
  config = BuildConfig(WithFiles({{"/c/a.yaml",
                                   "data-dir: /srv/k3s\n"
                                   "etcd-snapshot-dir: /backups\n"
                                   "etcd-cacert: \"\"\n"}}));
  CHECK(config.snapshot_dir == "/backups");
  CHECK(config.etcd_cacert.empty());
  CHECK(config.etcd_cert == "/srv/k3s/server/tls/etcd/client.crt");
}

TEST_CASE("a later file replaces an earlier file's value", "[config]") {
  const Config config = BuildConfig(WithFiles({
      {"/c/10-a.yaml", "etcd-snapshot-retention: 3\netcd-s3-region: eu-west-1\n"},
      {"/c/20-b.yaml", "etcd-snapshot-retention: 7\n"},
  }));
  CHECK(config.snapshot_retention == 7);
  CHECK(config.SourceOf("etcd-snapshot-retention") == "/c/20-b.yaml");
  CHECK(config.s3.region == "eu-west-1");
  CHECK(config.SourceOf("etcd-s3-region") == "/c/10-a.yaml");
}

TEST_CASE("flags win over files, in both spellings", "[config]") {
  const Config config = BuildConfig(WithFiles(
      {{"/c/a.yaml", "etcd-snapshot-retention: 3\nnode-name: from-file\nlog-level: warn\n"}},
      {"--etcd-snapshot-retention=9", "--node-name", "from-flag"}));
  CHECK(config.snapshot_retention == 9);
  CHECK(config.node_name == "from-flag");
  CHECK(config.log_level == "warn");
  CHECK(config.SourceOf("etcd-snapshot-retention") == "--etcd-snapshot-retention");
  CHECK(config.SourceOf("node-name") == "--node-name");
  CHECK(config.SourceOf("log-level") == "/c/a.yaml");

  // A repeated flag: the last one wins, as with Go's flag package.
  CHECK(BuildConfig(WithFlags({"--etcd-s3-retention=1", "--etcd-s3-retention=2"})).s3.retention ==
        2);
}

TEST_CASE("every source is recorded", "[config]") {
  ConfigInputs inputs = WithFiles({{"/c/a.yaml", "etcd-s3-folder: f\n"}}, {"--etcd-s3-region=r"});
  inputs.env["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE";
  const Config config = BuildConfig(inputs);
  CHECK(config.SourceOf("etcd-s3-folder") == "/c/a.yaml");
  CHECK(config.SourceOf("etcd-s3-region") == "--etcd-s3-region");
  CHECK(config.SourceOf("etcd-s3-access-key") == "env AWS_ACCESS_KEY_ID");
  CHECK(config.SourceOf("etcd-s3-bucket") == "default");
  CHECK(config.sources.size() == 3);
}

TEST_CASE("unknown keys and flags are named, with a suggestion when close", "[config]") {
  CHECK(FileError("etcd-snapshot-retenton: 3\n") ==
        "/etc/k3s-snapd.d/10-test.yaml: unknown key \"etcd-snapshot-retenton\" "
        "(did you mean \"etcd-snapshot-retention\"?)");
  CHECK(FileError("cluster-init: true\n") ==
        "/etc/k3s-snapd.d/10-test.yaml: unknown key \"cluster-init\"");
  CHECK(ErrorOf(WithFlags({"--etcd-foo=1"})) == "--etcd-foo: unknown flag");
  CHECK(ErrorOf(WithFlags({"--etcd-s4"})) == "--etcd-s4: unknown flag (did you mean --etcd-s3?)");
  CHECK(ErrorOf(WithFlags({"--node-nmae", "x"})) ==
        "--node-nmae: unknown flag (did you mean --node-name?)");
  // Not a flag at all; the value after '=' is never shown (it may be a secret).
  const std::string message = ErrorOf(WithFlags({"-token=hunter2"}));
  CHECK(message.find("\"-token\"") != std::string::npos);
  CHECK(message.find("hunter2") == std::string::npos);
  CHECK(ErrorOf(WithFlags({"--etcd-s3", "false"})).find("unexpected argument \"false\"") !=
        std::string::npos);
}

TEST_CASE("values of the wrong type name the file and key", "[config]") {
  const std::string path = "/etc/k3s-snapd.d/10-test.yaml";
  CHECK(FileError("etcd-snapshot-retention: five\n") ==
        path + ": etcd-snapshot-retention: expected an integer, got \"five\"");
  CHECK(FileError("etcd-snapshot-retention: 3.5\n") ==
        path + ": etcd-snapshot-retention: expected an integer, got \"3.5\"");
  CHECK(FileError("etcd-snapshot-retention: 0x10\n") ==
        path + ": etcd-snapshot-retention: expected an integer, got \"0x10\"");
  CHECK(FileError("etcd-snapshot-retention: 99999999999\n") ==
        path + ": etcd-snapshot-retention: integer out of range: \"99999999999\"");
  CHECK(FileError("etcd-s3: maybe\n") == path + ": etcd-s3: expected true or false, got \"maybe\"");
  CHECK(FileError("etcd-s3-timeout: 5 minutes\n")
            .starts_with(path + ": etcd-s3-timeout: expected a duration such as 30s, 5m or 1h30m, "
                                "got \"5 minutes\""));
  CHECK(FileError("etcd-s3-bucket: [a, b]\n") ==
        path + ": etcd-s3-bucket: expected a string, got a list");
  CHECK(FileError("etcd-s3-bucket:\n") ==
        path +
            ": etcd-s3-bucket: expected a string, got no value (write \"\" for an empty string)");
  CHECK(FileError("etcd-s3-retention: {a: 1}\n") ==
        path + ": etcd-s3-retention: expected an integer, got a mapping");
  CHECK(ErrorOf(WithFlags({"--etcd-snapshot-retention", "x"})) ==
        "--etcd-snapshot-retention: expected an integer, got \"x\"");
  CHECK(ErrorOf(WithFlags({"--etcd-s3=nope"})) ==
        "--etcd-s3: expected true or false, got \"nope\"");
  CHECK(ErrorOf(WithFlags({"--node-name"})) == "--node-name: needs a value (--node-name=VALUE)");
  CHECK(ErrorOf(WithFlags({"--node-name", "--etcd-s3"})) ==
        "--node-name: needs a value (--node-name=VALUE)");
}

TEST_CASE("YAML accepts its own bool spellings and quoted scalars", "[config]") {
  for (std::string text : {"yes", "true", "True", "on", "\"true\""}) {
    INFO(text);
    CHECK(BuildConfig(WithFiles({{"/c/a.yaml", "etcd-disable-snapshots: " + text}}))
              .disable_snapshots);
  }
  for (std::string text : {"no", "false", "off"}) {
    INFO(text);
    CHECK_FALSE(BuildConfig(WithFiles({{"/c/a.yaml", "etcd-s3-insecure: " + text}})).s3.insecure);
  }
  const Config config = BuildConfig(WithFiles({{"/c/a.yaml",
                                                "etcd-snapshot-retention: \"4\"\n"
                                                "etcd-s3-folder: 2024\n"
                                                "etcd-s3-region: 1.10\n"}}));
  CHECK(config.snapshot_retention == 4);
  CHECK(config.s3.folder == "2024");
  CHECK(config.s3.region == "1.10");  // kept as written, not as a float
}

TEST_CASE("durations are Go durations or seconds", "[config]") {
  CHECK(ParseConfigDuration("5m") == 300s);
  CHECK(ParseConfigDuration("30s") == 30s);
  CHECK(ParseConfigDuration("1h30m") == 5400s);
  CHECK(ParseConfigDuration("2h45m30s") == 9930s);
  CHECK(ParseConfigDuration("300") == 300s);
  CHECK(ParseConfigDuration("0") == 0s);
  CHECK(ParseConfigDuration("+10s") == 10s);
  // Parts of a second round up so that a short timeout never becomes 0.
  CHECK(ParseConfigDuration("300ms") == 1s);
  CHECK(ParseConfigDuration("1.5s") == 2s);
  CHECK(ParseConfigDuration("1.5m") == 90s);
  CHECK(ParseConfigDuration("2000ms") == 2s);
  CHECK(ParseConfigDuration("1us") == 1s);
  CHECK(ParseConfigDuration("1\xC2\xB5s") == 1s);
  CHECK(ParseConfigDuration("1000000000ns") == 1s);
  for (std::string bad :
       {"", "-5m", "5x", "m", "5 m", "1h-5m", ".s", "9999999999h", "99999999999999999999"}) {
    INFO(bad);
    CHECK_THROWS_AS(ParseConfigDuration(bad), Error);
  }
  CHECK(FormatConfigDuration(300s) == "5m");
  CHECK(FormatConfigDuration(5400s) == "1h30m");
  CHECK(FormatConfigDuration(3661s) == "1h1m1s");
  CHECK(FormatConfigDuration(0s) == "0s");
  CHECK(BuildConfig(WithFlags({"--etcd-s3-timeout=1h30m"})).s3.timeout == 5400s);
  CHECK(BuildConfig(WithFiles({{"/c/a.yaml", "etcd-s3-timeout: 45"}})).s3.timeout == 45s);
}

TEST_CASE("a bool flag alone means true", "[config]") {
  Config config = BuildConfig(WithFlags({"--etcd-s3", "--etcd-s3-bucket", "b"}));
  CHECK(config.s3.enabled);
  CHECK(config.s3.bucket == "b");
  CHECK(config.SourceOf("etcd-s3") == "--etcd-s3");
  config = BuildConfig(WithFiles({{"/c/a.yaml", "etcd-s3: true\n"}}, {"--etcd-s3=false"}));
  CHECK_FALSE(config.s3.enabled);
}

TEST_CASE("AWS_* environment fills credentials only when no file or flag does", "[config]") {
  ConfigInputs inputs = WithFiles({});
  inputs.env = {{"AWS_ACCESS_KEY_ID", "env-access"},
                {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                {"AWS_SESSION_TOKEN", ""},
                {"AWS_REGION", "ignored"}};
  Config config = BuildConfig(inputs);
  CHECK(config.s3.access_key == "env-access");
  CHECK(config.s3.secret_key == "env-secret");
  CHECK(config.s3.session_token.empty());
  CHECK(config.SourceOf("etcd-s3-session-token") == "default");
  CHECK(config.s3.region == "us-east-1");

  inputs.files = {{"/c/a.yaml", "etcd-s3-access-key: file-access\n"}};
  inputs.flags = {"--etcd-s3-secret-key=flag-secret"};
  config = BuildConfig(inputs);
  CHECK(config.s3.access_key == "file-access");
  CHECK(config.SourceOf("etcd-s3-access-key") == "/c/a.yaml");
  CHECK(config.s3.secret_key == "flag-secret");
  CHECK(config.SourceOf("etcd-s3-secret-key") == "--etcd-s3-secret-key");
}

TEST_CASE("bad final values are refused naming where they were set", "[config]") {
  const std::string path = "/etc/k3s-snapd.d/10-test.yaml";
  CHECK(FileError("data-dir: var/lib/k3s\n") ==
        path + ": data-dir: must be an absolute path, got \"var/lib/k3s\"");
  CHECK(ErrorOf(WithFlags({"--etcd-snapshot-dir=snaps"})) ==
        "--etcd-snapshot-dir: must be an absolute path, got \"snaps\"");
  CHECK(FileError("etcd-snapshot-dir: \"\"\n") ==
        path + ": etcd-snapshot-dir: must be an absolute path, got \"\"");

  for (std::string url :
       {"ftp://127.0.0.1:2379", "https://", "https://:2379", "127.0.0.1:2379", "https://h:99999",
        "https://h:", "https://h:2x", "https://[::1", "https://user:pw@h:2379", "https://h h"}) {
    INFO(url);
    CHECK(ErrorOf(WithFlags({"--etcd-endpoint=" + url})).starts_with("--etcd-endpoint: "));
  }
  for (std::string url :
       {"http://127.0.0.1:2379", "https://etcd.example", "https://[::1]:2379", "https://h:2379/"}) {
    INFO(url);
    CHECK(ErrorOf(WithFlags({"--etcd-endpoint=" + url})).empty());
  }

  for (std::string name : {"", "a/b", "..x", "a b", "snap\xC3\xA9"}) {
    INFO(name);
    CHECK(
        ErrorOf(WithFlags({"--etcd-snapshot-name=" + name})).starts_with("--etcd-snapshot-name: "));
  }
  CHECK(ErrorOf(WithFlags({"--etcd-snapshot-name=nightly.v2_A-1"})).empty());

  CHECK(ErrorOf(WithFlags({"--node-name=a/b"})) ==
        "--node-name: must not contain '/', got \"a/b\"");
  CHECK(ErrorOf(WithFlags({"--node-name=a\nb"}))
            .starts_with("--node-name: must not contain control"));
  ConfigInputs no_host;
  CHECK(ErrorOf(no_host) == "node-name (host name): must not be empty");
  CHECK(ErrorOf(WithFlags({"--node-name=k3s-server-1.example.com"})).empty());

  CHECK(FileError("etcd-s3-bucket-lookup-type: virtual\n") ==
        path + ": etcd-s3-bucket-lookup-type: must be one of auto, dns, path; got \"virtual\"");
  CHECK(ErrorOf(WithFlags({"--log-level=verbose"})) ==
        "--log-level: must be one of trace, debug, info, warn, error; got \"verbose\"");
  CHECK(FileError("etcd-snapshot-retention: -1\n") ==
        path + ": etcd-snapshot-retention: must not be negative, got -1");
  CHECK(ErrorOf(WithFlags({"--etcd-s3-retention", "-2"})) ==
        "--etcd-s3-retention: must not be negative, got -2");
  CHECK(ErrorOf(WithFlags({"--etcd-snapshot-retention=0"})).empty());  // 0: no pruning
  CHECK(ErrorOf(WithFlags({"--etcd-s3-timeout=0s"})) ==
        "--etcd-s3-timeout: must be more than 0s, got 0s");

  CHECK(FileError("etcd-s3: true\n") == path + ": etcd-s3 is true but etcd-s3-bucket is not set");
  CHECK(ErrorOf(WithFlags({"--etcd-s3"})) ==
        "--etcd-s3: etcd-s3 is true but etcd-s3-bucket is not set");
  CHECK(ErrorOf(WithFlags({"--etcd-s3", "--etcd-s3-bucket=b", "--etcd-s3-endpoint="})) ==
        "--etcd-s3: etcd-s3 is true but etcd-s3-endpoint is empty");
  // The cron spec is the schedule layer's to check.
  CHECK(ErrorOf(WithFlags({"--etcd-snapshot-schedule-cron=not a spec"})).empty());
}

TEST_CASE("bad files are named with what is wrong", "[config]") {
  const std::string path = "/etc/k3s-snapd.d/10-test.yaml";
  CHECK(ErrorOf(WithFiles({{path, ""}, {"/c/b.yaml", "# only a comment\n"}})).empty());
  CHECK(FileError("- a\n- b\n") ==
        path + ": expected \"key: value\" lines (a mapping), got a list");
  CHECK(FileError("just text\n").starts_with(path + ": expected \"key: value\" lines"));
  CHECK(FileError("node-name: a\nnode-name: b\n") == path + ": key \"node-name\" is set twice");
  CHECK(FileError("a: 1\n---\nb: 2\n") == path + ": holds 2 YAML documents; expected one");
  CHECK(FileError("etcd-s3-folder+: x\n") ==
        path +
            ": etcd-s3-folder+: \"+\" appends to a list, but etcd-s3-folder is a string; "
            "write \"etcd-s3-folder:\"");
  CHECK(FileError("no-such-key+: x\n") == path + ": unknown key \"no-such-key+\"");
  const std::string invalid = FileError("node-name: a\n  bad: [\n");
  CHECK(invalid.starts_with(path + ":"));
  CHECK(invalid.find("invalid YAML") != std::string::npos);
  CHECK(FileError("node-name: a\netcd-s3-folder: [x,\n") ==
        path + ":3:1: invalid YAML: end of sequence flow not found");
}

TEST_CASE("ConfigToJson shows whether a secret is set, never its value", "[config]") {
  ConfigInputs inputs = WithFiles({{"/c/a.yaml",
                                    "token: K10abc::server:tok-SECRET-1\n"
                                    "etcd-s3-secret-key: s3-SECRET-2\n"
                                    "etcd-s3-bucket: my-bucket\n"}},
                                  {"--etcd-s3-session-token=sess-SECRET-3"});
  inputs.env["AWS_ACCESS_KEY_ID"] = "ak-SECRET-4";
  const nlohmann::json json = ConfigToJson(BuildConfig(inputs));
  const std::string text = json.dump();
  for (const char* secret : {"SECRET-1", "SECRET-2", "SECRET-3", "SECRET-4"}) {
    INFO(secret);
    CHECK(text.find(secret) == std::string::npos);
  }
  CHECK(json["token"] == "(set)");
  CHECK(json["etcd-s3-secret-key"] == "(set)");
  CHECK(json["etcd-s3-session-token"] == "(set)");
  CHECK(json["etcd-s3-access-key"] == "(set)");
  CHECK(ConfigToJson(BuildConfig(WithFiles({})))["token"] == "");
  CHECK(json["etcd-s3-bucket"] == "my-bucket");
  CHECK(json["etcd-snapshot-retention"] == 5);
  CHECK(json["etcd-s3"] == false);
  CHECK(json["etcd-s3-timeout"] == "5m");
  CHECK(json["node-name"] == "node-a");
  CHECK(json.size() == ConfigKeys().size());
}

TEST_CASE("ReadConfigDir reads *.yaml and *.yml in file-name order", "[config]") {
  TempDir dir;
  dir.Write("b.yaml", "node-name: b\n");
  dir.Write("a.yml", "node-name: a\n");
  dir.Write("10-first.yaml", "log-level: debug\n");
  dir.Write("c.yaml.bak", "x");
  dir.Write("notes.txt", "x");
  dir.Write(".hidden.yaml", "x");
  const std::vector<ConfigFile> files = ReadConfigDir(dir.path().string());
  REQUIRE(files.size() == 3);
  CHECK(files[0].path == (dir.path() / "10-first.yaml").string());
  CHECK(files[1].path == (dir.path() / "a.yml").string());
  CHECK(files[2].path == (dir.path() / "b.yaml").string());
  CHECK(files[1].text == "node-name: a\n");
  const Config config = BuildConfig(WithFiles(files));
  CHECK(config.node_name == "b");
  CHECK(config.SourceOf("node-name") == files[2].path);

  std::filesystem::create_directory(dir.path() / "d.yaml");
  try {
    ReadConfigDir(dir.path().string());
    FAIL("a directory named *.yaml must not read as a file");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find((dir.path() / "d.yaml").string()) != std::string::npos);
  }
}

TEST_CASE("a missing config dir is empty only when it is the default", "[config]") {
  TempDir dir;
  const std::string missing = (dir.path() / "nope").string();
  CHECK(ReadConfigDir(missing, /*missing_is_empty=*/true).empty());
  try {
    ReadConfigDir(missing);
    FAIL("a missing config dir given by the user is an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kNotFound);
    CHECK(std::string(e.what()) == "config dir " + missing + ": does not exist");
  }
  dir.Write("file", "");
  CHECK_THROWS_AS(ReadConfigDir((dir.path() / "file").string(), true), Error);
}

TEST_CASE("--config-dir is taken out of the command line", "[config]") {
  CommandLine line = SplitCommandLine({"--etcd-s3", "--config-dir", "/x", "--node-name=n"});
  CHECK(line.config_dir == "/x");
  CHECK(line.config_dir_given);
  CHECK(line.flags == std::vector<std::string>{"--etcd-s3", "--node-name=n"});
  line = SplitCommandLine({"--config-dir=/y"});
  CHECK(line.config_dir == "/y");
  CHECK(line.flags.empty());
  line = SplitCommandLine({});
  CHECK(line.config_dir == kDefaultConfigDir);
  CHECK_FALSE(line.config_dir_given);
  CHECK_THROWS_AS(SplitCommandLine({"--config-dir"}), Error);
  CHECK_THROWS_AS(SplitCommandLine({"--config-dir="}), Error);
}

TEST_CASE("the key table is consistent and documented", "[config]") {
  std::set<std::string_view> names;
  for (const ConfigKey& key : ConfigKeys()) {
    INFO(key.name);
    CHECK(names.insert(key.name).second);
    CHECK(FindConfigKey(key.name) == &key);
    if (key.secret) {  // checks and choices quote values in errors; secrets must have none
      CHECK(key.check == ValueCheck::kNone);
      CHECK(key.choices.empty());
      CHECK(TypeOf(key) == ValueType::kString);
    }
    if (key.default_text.starts_with(kDataDirDefaultPrefix)) {
      CHECK(TypeOf(key) == ValueType::kString);
    }
  }
  CHECK(FindConfigKey("etcd-snapshot-compress") == nullptr);

  std::ifstream doc(std::string(SNAPD_SOURCE_ROOT) + "/docs/config-reference.md");
  REQUIRE(doc.good());
  std::stringstream text;
  text << doc.rdbuf();
  for (const ConfigKey& key : ConfigKeys()) {
    INFO(key.name);
    const std::string row_start =
        "| `" + std::string(key.name) + "` | " + std::string(ValueTypeName(TypeOf(key))) + " | ";
    const std::size_t row = text.str().find(row_start);
    REQUIRE(row != std::string::npos);
    const std::string line = text.str().substr(row, text.str().find('\n', row) - row);
    std::string default_cell = "| `" + std::string(key.default_text) + "` |";
    if (key.default_text.empty()) default_cell = "| \"\" |";
    if (key.default_text.starts_with('('))
      default_cell = "| " + std::string(key.default_text) + " |";
    CHECK(line.find(default_cell) != std::string::npos);
  }
}
