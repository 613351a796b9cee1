// Tests of lib/config: merging files, flags and environment; value parsing; validation;
// redaction; reading the config dir; the key table against docs/config-reference.md.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

// A file system of secret files for ConfigInputs::read_file; a missing path fails like
// ReadSecretFile does.
struct FakeSecretFiles {
  std::map<std::string, ConfigFile> files;
  void Add(const std::string& path, const std::string& text, unsigned mode = 0600,
           unsigned owner = 0) {
    files[path] = ConfigFile{path, text, mode, owner};
  }
  std::function<ConfigFile(const std::string&)> Reader() const {
    return [this](const std::string& path) {
      auto it = files.find(path);
      if (it == files.end()) {
        throw Error::NotFound("secret file " + path + ": No such file or directory");
      }
      return it->second;
    };
  }
};

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
  // Writes `name` with exactly `mode` (umask does not apply) and returns its path.
  std::string WriteWithMode(const std::string& name, const std::string& text, mode_t mode) const {
    Write(name, text);
    const std::string path = (path_ / name).string();
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    return path;
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
  // Messages are one line, whatever the flag holds.
  CHECK(ErrorOf(WithFlags({"--etcd-s3-\nnode-name: x"})) ==
        "\"--etcd-s3-\\nnode-name: x\": unknown flag");
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
  // yaml-cpp's LoadAll alone never returned on these, eating memory (found by fuzzing).
  for (const char* hangs : {",", "# comment\n,", "a: 1\n---\n, a\n"}) {
    INFO(hangs);
    CHECK(FileError(hangs) == path + ": invalid YAML: malformed stream");
  }
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

TEST_CASE("calendar retention keys are counts, off by default", "[config]") {
  const Config defaults = BuildConfig(WithFlags({}));
  CHECK(defaults.snapshot_keep_hourly == 0);
  CHECK(defaults.snapshot_keep_daily == 0);
  CHECK(defaults.snapshot_keep_weekly == 0);
  CHECK(defaults.snapshot_keep_monthly == 0);

  const Config config = BuildConfig(WithFiles({{"/c/a.yaml",
                                                "etcd-snapshot-keep-hourly: 24\n"
                                                "etcd-snapshot-keep-daily: \"7\"\n"
                                                "etcd-snapshot-keep-weekly: 4\n"}},
                                              {"--etcd-snapshot-keep-monthly=12"}));
  CHECK(config.snapshot_keep_hourly == 24);
  CHECK(config.snapshot_keep_daily == 7);
  CHECK(config.snapshot_keep_weekly == 4);
  CHECK(config.snapshot_keep_monthly == 12);
  CHECK(config.SourceOf("etcd-snapshot-keep-daily") == "/c/a.yaml");
  CHECK(config.SourceOf("etcd-snapshot-keep-monthly") == "--etcd-snapshot-keep-monthly");

  const std::string path = "/etc/k3s-snapd.d/10-test.yaml";
  CHECK(FileError("etcd-snapshot-keep-daily: -1\n") ==
        path + ": etcd-snapshot-keep-daily: must not be negative, got -1");
  CHECK(ErrorOf(WithFlags({"--etcd-snapshot-keep-hourly", "-24"})) ==
        "--etcd-snapshot-keep-hourly: must not be negative, got -24");
  CHECK(FileError("etcd-snapshot-keep-weekly: four\n") ==
        path + ": etcd-snapshot-keep-weekly: expected an integer, got \"four\"");
  CHECK(ErrorOf(WithFlags({"--etcd-snapshot-keep-monthly=1.5"})) ==
        "--etcd-snapshot-keep-monthly: expected an integer, got \"1.5\"");
  CHECK(FileError("etcd-snapshot-keep-dayly: 7\n") ==
        path +
            ": unknown key \"etcd-snapshot-keep-dayly\" (did you mean "
            "\"etcd-snapshot-keep-daily\"?)");
  CHECK(FileError("etcd-snapshot-keep-yearly: 1\n") ==
        path + ": unknown key \"etcd-snapshot-keep-yearly\"");  // restic's, not ours
}

TEST_CASE("metrics-address takes host:port or nothing", "[config]") {
  CHECK(BuildConfig(WithFiles({})).metrics_address.empty());
  for (std::string good : {"127.0.0.1:9469", "0.0.0.0:1", "[::1]:9469", "[::]:65535",
                           "localhost:9469", "metrics.k3s-1.example:80"}) {
    INFO(good);
    const Config config = BuildConfig(WithFlags({"--metrics-address=" + good}));
    CHECK(config.metrics_address == good);
  }
  for (std::string bad :
       {"9469", ":9469", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:99999999", "127.0.0.1:http", "::1:9469", "[::1]9469", "[nothost]:9469", "[::1",
        "256.0.0.1:9469", "1.2.3:9469", "-bad.example:9469", "a..b:9469", "host_name:9469",
        "http://127.0.0.1:9469", "127.0.0.1:+80"}) {
    INFO(bad);
    CHECK(ErrorOf(WithFlags({"--metrics-address=" + bad})).starts_with("--metrics-address: "));
  }
  CHECK(FileError("metrics-address: \"::1:9469\"\n") ==
        "/etc/k3s-snapd.d/10-test.yaml: metrics-address: an IPv6 address goes inside [] (as in "
        "[::1]:9469), got \"::1:9469\"");
  CHECK(ErrorOf(WithFlags({"--metrics-address=127.0.0.1:0"})) ==
        "--metrics-address: port must be 1 to 65535, got \"127.0.0.1:0\"");
}

TEST_CASE("control-socket-group takes a group name or number", "[config]") {
  CHECK(BuildConfig(WithFiles({})).control_socket_group.empty());
  for (std::string good :
       {"k3s-snapd", "adm", "_ops", "backup.ops", "1000", "0", "machine$", "4294967294"}) {
    INFO(good);
    CHECK(BuildConfig(WithFlags({"--control-socket-group=" + good})).control_socket_group == good);
  }
  for (const std::string& bad :
       std::vector<std::string>{"-ops", "1ops", "a b", "ops:", "a/b", "$", "4294967295",
                                "99999999999", "a$b", std::string(33, 'g')}) {
    INFO(bad);
    CHECK(ErrorOf(WithFlags({"--control-socket-group=" + bad}))
              .starts_with("--control-socket-group: "));
  }
}

TEST_CASE("S3 credentials can be read from files", "[config]") {
  FakeSecretFiles fs;
  fs.Add("/run/secrets/s3-access", "AKIDFROMFILE\n");
  fs.Add("/run/secrets/s3-secret", "secret-FROM-file \t\r\n\n");
  ConfigInputs inputs = WithFiles({{"/c/a.yaml",
                                    "etcd-s3-access-key-file: /run/secrets/s3-access\n"
                                    "etcd-s3-secret-key-file: /run/secrets/s3-secret\n"}});
  inputs.read_file = fs.Reader();
  // The files win over the environment, as the value keys do.
  inputs.env = {{"AWS_ACCESS_KEY_ID", "env-access"}, {"AWS_SECRET_ACCESS_KEY", "env-secret"}};
  Config config = BuildConfig(inputs);
  CHECK(config.s3.access_key == "AKIDFROMFILE");
  CHECK(config.s3.secret_key == "secret-FROM-file");  // trailing white space cut
  CHECK(config.s3.access_key_file == "/run/secrets/s3-access");
  CHECK(config.SourceOf("etcd-s3-access-key") == "file /run/secrets/s3-access");
  CHECK(config.SourceOf("etcd-s3-secret-key") == "file /run/secrets/s3-secret");
  CHECK(config.SourceOf("etcd-s3-secret-key-file") == "/c/a.yaml");
  const nlohmann::json json = ConfigToJson(config);
  CHECK(json["etcd-s3-secret-key"] == "(set)");
  CHECK(json["etcd-s3-secret-key-file"] == "/run/secrets/s3-secret");
  CHECK(json.dump().find("FROM-file") == std::string::npos);

  // Only one of a key and its -file key.
  inputs.flags = {"--etcd-s3-secret-key=flag-SECRET"};
  std::string message = ErrorOf(inputs);
  CHECK(message ==
        "--etcd-s3-secret-key and /c/a.yaml: etcd-s3-secret-key-file: both are set; keep one");
  CHECK(message.find("SECRET") == std::string::npos);
  // An empty value is no value: it does not conflict.
  inputs.flags = {"--etcd-s3-secret-key="};
  CHECK(BuildConfig(inputs).s3.secret_key == "secret-FROM-file");
  inputs.flags = {"--etcd-s3-secret-key-file="};
  CHECK(BuildConfig(inputs).s3.secret_key == "env-secret");
  CHECK(BuildConfig(inputs).SourceOf("etcd-s3-secret-key") == "env AWS_SECRET_ACCESS_KEY");
}

TEST_CASE("unreadable, empty or multi-line secret files name the key and path only", "[config]") {
  FakeSecretFiles fs;
  fs.Add("/s/empty", " \n");
  fs.Add("/s/two-lines", "first-SECRET\nsecond-SECRET\n");
  auto error_for = [&fs](const std::string& path) {
    ConfigInputs inputs = WithFlags({"--etcd-s3-secret-key-file=" + path});
    inputs.read_file = fs.Reader();
    return ErrorOf(inputs);
  };
  CHECK(error_for("/s/missing") ==
        "--etcd-s3-secret-key-file: secret file /s/missing: No such file or directory");
  CHECK(error_for("/s/empty") == "--etcd-s3-secret-key-file: /s/empty is empty");
  const std::string message = error_for("/s/two-lines");
  CHECK(message ==
        "--etcd-s3-secret-key-file: /s/two-lines holds more than one line; expected only the "
        "secret");
  CHECK(error_for("secrets/s3") ==
        "--etcd-s3-secret-key-file: must be an absolute path, got \"secrets/s3\"");
  // Without a reader (a caller that reads no files), the key cannot be honoured silently.
  CHECK_THROWS_AS(BuildConfig(WithFlags({"--etcd-s3-access-key-file=/s/empty"})), Error);
}

TEST_CASE("secret files must be private to root or the daemon", "[config]") {
  FakeSecretFiles fs;
  fs.Add("/s/open", "SECRET-1\n", 0644);
  fs.Add("/s/group", "SECRET-2\n", 0640);
  fs.Add("/s/group-write", "SECRET-3\n", 0620);
  fs.Add("/s/others", "SECRET-4\n", 0604);
  fs.Add("/s/private", "SECRET-5\n", 0400);
  fs.Add("/s/theirs", "SECRET-6\n", 0600, 1000);
  fs.Add("/s/mine", "SECRET-7\n", 0600, 991);
  auto error_for = [&fs](const std::string& path, unsigned daemon_uid = 0) {
    ConfigInputs inputs = WithFiles({{"/c/s3.yaml", "etcd-s3-access-key-file: " + path + "\n"}});
    inputs.read_file = fs.Reader();
    inputs.daemon_uid = daemon_uid;
    const std::string message = ErrorOf(inputs);
    CHECK(message.find("SECRET") == std::string::npos);
    return message;
  };
  CHECK(error_for("/s/open") ==
        "/c/s3.yaml: etcd-s3-access-key-file: /s/open has mode 0644 (open to group or others); "
        "run chmod 600 /s/open");
  CHECK(error_for("/s/group").find("has mode 0640") != std::string::npos);
  CHECK(error_for("/s/group-write").find("has mode 0620") != std::string::npos);
  CHECK(error_for("/s/others").find("run chmod 600 /s/others") != std::string::npos);
  CHECK(error_for("/s/private").empty());
  CHECK(error_for("/s/theirs") ==
        "/c/s3.yaml: etcd-s3-access-key-file: /s/theirs is owned by uid 1000, not root; run chown "
        "root /s/theirs");
  CHECK(error_for("/s/theirs", 991) ==
        "/c/s3.yaml: etcd-s3-access-key-file: /s/theirs is owned by uid 1000, not by uid 991 (the "
        "daemon) or root; run chown 991 /s/theirs");
  CHECK(error_for("/s/mine", 991).empty());
  CHECK(error_for("/s/private", 991).empty());  // root's file is trusted too
}

TEST_CASE("drop-ins holding secrets must not be open to group or others", "[config]") {
  const std::string path = "/etc/k3s-snapd.d/20-s3.yaml";
  FakeSecretFiles fs;
  fs.Add("/s/x", "s3-secret");
  auto error_for = [&path, &fs](const std::string& text, unsigned mode, unsigned owner = 0) {
    ConfigInputs inputs = WithFiles({{path, text, mode, owner}});
    inputs.read_file = fs.Reader();
    return ErrorOf(inputs);
  };

  CHECK(error_for("etcd-s3-secret-key: s3-SECRET\n", 0644) ==
        path +
            ": holds etcd-s3-secret-key but has mode 0644 (open to group or others); run "
            "chmod 600 " +
            path);
  for (std::string key : {"token", "etcd-s3-session-token", "etcd-s3-access-key"}) {
    INFO(key);
    CHECK(error_for(key + ": value\n", 0640) ==
          path + ": holds " + key + " but has mode 0640 (open to group or others); run chmod 600 " +
              path);
  }
  CHECK(error_for("token: t\n", 0600, 1000) ==
        path + ": holds token but is owned by uid 1000, not root; run chown root " + path);
  CHECK(error_for("etcd-s3-secret-key: s\n", 0600).empty());
  CHECK(error_for("etcd-s3-secret-key: s\n", 0400).empty());
  // No secret, or an empty one: any mode will do.
  CHECK(error_for("etcd-s3-bucket: b\netcd-s3-secret-key-file: /s/x\n", 0644).empty());
  CHECK(error_for("etcd-s3-secret-key: \"\"\nnode-name: n\n", 0644).empty());

  ConfigInputs inputs = WithFiles({{path, "token: t\n", 0600, 991}});
  inputs.daemon_uid = 991;
  CHECK(ErrorOf(inputs).empty());
}

TEST_CASE("systemd credentials fill secrets nothing else sets", "[config]") {
  ConfigInputs inputs = WithFiles({});
  inputs.credentials = {{"etcd-s3-secret-key", "cred-secret\n"},
                        {"etcd-s3-access-key", "cred-access"},
                        {"etcd-s3-session-token", "cred-session\n"},
                        {"token", "K10cred::server:pw\n"}};
  Config config = BuildConfig(inputs);
  CHECK(config.s3.secret_key == "cred-secret");
  CHECK(config.s3.access_key == "cred-access");
  CHECK(config.s3.session_token == "cred-session");
  CHECK(config.token == "K10cred::server:pw");
  CHECK(config.SourceOf("etcd-s3-secret-key") == "credential etcd-s3-secret-key");
  CHECK(config.SourceOf("token") == "credential token");

  // Flags, files, the environment and -file keys all win over a credential.
  FakeSecretFiles fs;
  fs.Add("/s/access", "file-access\n");
  inputs.files = {{"/c/a.yaml", "etcd-s3-secret-key: file-secret\n"}};
  inputs.flags = {"--etcd-s3-access-key-file=/s/access"};
  inputs.env = {{"AWS_SESSION_TOKEN", "env-session"}};
  inputs.read_file = fs.Reader();
  config = BuildConfig(inputs);
  CHECK(config.s3.secret_key == "file-secret");
  CHECK(config.SourceOf("etcd-s3-secret-key") == "/c/a.yaml");
  CHECK(config.s3.access_key == "file-access");
  CHECK(config.SourceOf("etcd-s3-access-key") == "file /s/access");
  CHECK(config.s3.session_token == "env-session");
  CHECK(config.SourceOf("etcd-s3-session-token") == "env AWS_SESSION_TOKEN");
  CHECK(config.token == "K10cred::server:pw");

  // An explicit token-file says where the token is; the credential does not override it.
  inputs.flags = {"--token-file=/srv/token"};
  config = BuildConfig(inputs);
  CHECK(config.token.empty());
  CHECK(config.token_file == "/srv/token");

  ConfigInputs bad = WithFiles({});
  bad.credentials = {{"etcd-s3-secret-key", "\n"}};
  CHECK(ErrorOf(bad) == "credential etcd-s3-secret-key is empty");
  bad.credentials = {{"token", "a-SECRET\nb\n"}};
  CHECK(ErrorOf(bad) == "credential token holds more than one line; expected only the secret");
}

TEST_CASE("ReadConfigDir and ReadSecretFile report mode and owner", "[config]") {
  TempDir dir;
  dir.WriteWithMode("10-open.yaml", "node-name: n\n", 0644);
  dir.WriteWithMode("20-s3.yaml", "etcd-s3-secret-key: s3-SECRET\n", 0640);
  std::vector<ConfigFile> files = ReadConfigDir(dir.path().string());
  REQUIRE(files.size() == 2);
  CHECK(files[0].mode == 0644);
  CHECK(files[1].mode == 0640);
  CHECK(files[1].owner_uid == ::geteuid());
  ConfigInputs inputs = WithFiles(files);
  inputs.daemon_uid = ::geteuid();
  const std::string path = (dir.path() / "20-s3.yaml").string();
  CHECK(ErrorOf(inputs) == path +
                               ": holds etcd-s3-secret-key but has mode 0640 (open to group or "
                               "others); run chmod 600 " +
                               path);
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  inputs.files = ReadConfigDir(dir.path().string());
  CHECK(BuildConfig(inputs).s3.secret_key == "s3-SECRET");

  const std::string secret = dir.WriteWithMode("secret", "abc\n", 0604);
  ConfigFile file = ReadSecretFile(secret);
  CHECK(file.path == secret);
  CHECK(file.text == "abc\n");
  CHECK(file.mode == 0604);
  CHECK(file.owner_uid == ::geteuid());
  // A link is followed and the target's mode reported.
  std::filesystem::create_symlink(secret, dir.path() / "link");
  CHECK(ReadSecretFile((dir.path() / "link").string()).mode == 0604);

  const std::string missing = (dir.path() / "missing").string();
  try {
    ReadSecretFile(missing);
    FAIL("a missing secret file must be an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "secret file " + missing + ": No such file or directory");
  }
  std::filesystem::create_directory(dir.path() / "sub");
  CHECK_THROWS_AS(ReadSecretFile((dir.path() / "sub").string()), Error);
  REQUIRE(::mkfifo((dir.path() / "fifo").c_str(), 0600) == 0);
  CHECK_THROWS_AS(ReadSecretFile((dir.path() / "fifo").string()), Error);  // does not block
  dir.Write("huge", std::string(65 * 1024, 'x'));
  CHECK_THROWS_AS(ReadSecretFile((dir.path() / "huge").string()), Error);
}

TEST_CASE("ReadCredentials reads only credentials named like secret keys", "[config]") {
  TempDir dir;
  dir.Write("etcd-s3-secret-key", "cred-secret\n");
  dir.Write("token", "tok");
  dir.Write("etcd-s3-bucket", "not-a-secret-key");
  dir.Write("other", "x");
  const std::map<std::string, std::string> credentials = ReadCredentials(dir.path().string());
  CHECK(credentials == std::map<std::string, std::string>{{"etcd-s3-secret-key", "cred-secret\n"},
                                                          {"token", "tok"}});
  std::filesystem::create_directory(dir.path() / "etcd-s3-access-key");
  CHECK_THROWS_AS(ReadCredentials(dir.path().string()), Error);
}

TEST_CASE("LoadConfig reads drop-ins, secret files and $CREDENTIALS_DIRECTORY", "[config]") {
  TempDir dir;
  const std::string secret = dir.WriteWithMode("s3-secret", "file-secret\n", 0600);
  std::filesystem::create_directory(dir.path() / "conf");
  std::filesystem::create_directory(dir.path() / "creds");
  dir.Write("conf/10-s3.yaml", "etcd-s3-secret-key-file: " + secret + "\nnode-name: n1\n");
  dir.Write("creds/etcd-s3-access-key", "cred-access\n");
  const std::string conf = (dir.path() / "conf").string();
  REQUIRE(::setenv("CREDENTIALS_DIRECTORY", (dir.path() / "creds").c_str(), 1) == 0);
  const char* saved_access = std::getenv("AWS_ACCESS_KEY_ID");
  const std::string saved = saved_access ? saved_access : "";
  ::unsetenv("AWS_ACCESS_KEY_ID");
  std::string error;
  Config config;
  try {
    config = LoadConfig({"--config-dir", conf, "--k3s-config=none"});
  } catch (const Error& e) {
    error = e.what();
  }
  ::unsetenv("CREDENTIALS_DIRECTORY");
  if (saved_access != nullptr) ::setenv("AWS_ACCESS_KEY_ID", saved.c_str(), 1);
  REQUIRE(error.empty());
  CHECK(config.s3.secret_key == "file-secret");
  CHECK(config.s3.access_key == "cred-access");
  CHECK(config.SourceOf("etcd-s3-access-key") == "credential etcd-s3-access-key");

  REQUIRE(::chmod(secret.c_str(), 0644) == 0);
  CHECK_THROWS_WITH(LoadConfig({"--config-dir", conf, "--k3s-config=none"}),
                    Catch::Contains("has mode 0644") && Catch::Contains("chmod 600 " + secret));
}

TEST_CASE("state-dir: a flag or file, else $STATE_DIRECTORY, else /var/lib/k3s-snapd", "[config]") {
  CHECK(BuildConfig(WithFiles({})).state_dir == "/var/lib/k3s-snapd");
  ConfigInputs inputs = WithFiles({});
  inputs.env["STATE_DIRECTORY"] = "/var/lib/k3s-snapd-unit";
  Config config = BuildConfig(inputs);
  CHECK(config.state_dir == "/var/lib/k3s-snapd-unit");
  CHECK(config.SourceOf("state-dir") == "env STATE_DIRECTORY");
  inputs.flags = {"--state-dir=/srv/state"};
  CHECK(BuildConfig(inputs).state_dir == "/srv/state");
  CHECK(FileError("state-dir: relative/dir\n") ==
        "/etc/k3s-snapd.d/10-test.yaml: state-dir: must be an absolute path, got "
        "\"relative/dir\"");
  inputs.flags = {};
  inputs.env["STATE_DIRECTORY"] = "relative";
  CHECK(ErrorOf(inputs) ==
        "env STATE_DIRECTORY: state-dir: must be an absolute path, got "
        "\"relative\"");
}

TEST_CASE("etcd-stall-timeout and etcd-s3-incomplete-upload-grace are durations", "[config]") {
  Config config = BuildConfig(WithFiles({}));
  CHECK(config.etcd_stall_timeout == 60s);
  CHECK(config.s3.incomplete_upload_grace == 600s);
  config = BuildConfig(WithFiles(
      {{"/c/a.yaml", "etcd-stall-timeout: 2m30s\netcd-s3-incomplete-upload-grace: 1h\n"}}));
  CHECK(config.etcd_stall_timeout == 150s);
  CHECK(config.s3.incomplete_upload_grace == 3600s);
  CHECK(config.SourceOf("etcd-stall-timeout") == "/c/a.yaml");
  CHECK(FileError("etcd-stall-timeout: soon\n")
            .starts_with("/etc/k3s-snapd.d/10-test.yaml: etcd-stall-timeout: expected a duration "
                         "such as 30s, 5m or 1h30m, got \"soon\""));
  CHECK(ErrorOf(WithFlags({"--etcd-stall-timeout=0s"})) ==
        "--etcd-stall-timeout: must be more than 0s, got 0s");
  CHECK(FileError("etcd-s3-incomplete-upload-grace: 0s\n") ==
        "/etc/k3s-snapd.d/10-test.yaml: etcd-s3-incomplete-upload-grace: must be more than 0s, "
        "got 0s");
  const nlohmann::json json = ConfigToJson(BuildConfig(WithFiles({})));
  CHECK(json["etcd-stall-timeout"] == "1m");
  CHECK(json["etcd-s3-incomplete-upload-grace"] == "10m");
  CHECK(json["state-dir"] == "/var/lib/k3s-snapd");
}
