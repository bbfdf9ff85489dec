#include "transport/kafka_cluster_testutil.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "testing/wait.h"

namespace smartcity {
namespace {

std::string SourceDir() {
#ifdef SMARTCITY_SOURCE_DIR
  return SMARTCITY_SOURCE_DIR;
#else
  const char* env = std::getenv("SMARTCITY_SOURCE_DIR");
  return env != nullptr ? env : ".";
#endif
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace

LocalKafkaCluster::LocalKafkaCluster(std::string script, std::unique_ptr<test::TempDir> dir,
                                     std::string bootstrap, int nodes)
    : script_(std::move(script)),
      temp_dir_(std::move(dir)),
      dir_(temp_dir_->string()),
      bootstrap_(std::move(bootstrap)),
      nodes_(nodes) {
  std::stringstream ss(bootstrap_);
  std::string address;
  while (std::getline(ss, address, ',')) node_addresses_.push_back(address);
}

Result<std::unique_ptr<LocalKafkaCluster>> LocalKafkaCluster::Start(int nodes) {
  if (nodes < 1 || nodes > 9)
    return Status::InvalidArgument("a local Kafka cluster has 1..9 nodes");
  std::string script = SourceDir() + "/scripts/kafka.sh";
  auto dir = std::make_unique<test::TempDir>("smartcity-kafka");
  dir->Keep(std::getenv("SMARTCITY_KEEP_KAFKA_DIR") != nullptr);
  SC_ASSIGN_OR_RETURN(
      test::ProcessResult r,
      test::RunProcess({"bash", script, "start", "--dir", dir->string(), "--brokers",
                        std::to_string(nodes), "--watch-pid", std::to_string(getpid())},
                       {.timeout = std::chrono::seconds(900)}));
  std::string bootstrap = Trim(r.out);
  if (r.exit_code != 0 || bootstrap.empty()) {
    return Status::Unavailable("could not start a local " + std::to_string(nodes) +
                               "-node Kafka with scripts/kafka.sh (" + r.status.ToString() +
                               "):\n" + test::LastLines(r.err, 60));
  }
  return std::unique_ptr<LocalKafkaCluster>(
      new LocalKafkaCluster(script, std::move(dir), bootstrap, nodes));
}

LocalKafkaCluster::~LocalKafkaCluster() {
  Status s = RunScript({"stop", "--dir", dir_});
  if (!s.ok()) fprintf(stderr, "LocalKafkaCluster: %s\n", s.message().c_str());
  // temp_dir_ removes the directory now, unless SMARTCITY_KEEP_KAFKA_DIR is set.
}

std::string LocalKafkaCluster::NodeAddress(int node) const {
  return node_addresses_.at(node - 1);
}

Status LocalKafkaCluster::RunScript(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv = {"bash", script_};
  argv.insert(argv.end(), args.begin(), args.end());
  SC_ASSIGN_OR_RETURN(test::ProcessResult r,
                      test::RunProcess(argv, {.timeout = std::chrono::seconds(600)}));
  if (r.exit_code != 0) {
    return Status::Unavailable("scripts/kafka.sh " + Join(args) + " failed (" +
                               r.status.ToString() + "):\n" + test::LastLines(r.err, 40));
  }
  if (out != nullptr) *out = std::move(r.out);
  return Status::OK();
}

Status LocalKafkaCluster::StopNode(int node) {
  return RunScript({"stop-node", "--dir", dir_, "--node", std::to_string(node)});
}
Status LocalKafkaCluster::StartNode(int node) {
  return RunScript({"start-node", "--dir", dir_, "--node", std::to_string(node)});
}
Status LocalKafkaCluster::KillNode(int node) {
  return RunScript({"kill-node", "--dir", dir_, "--node", std::to_string(node)});
}

Result<std::string> LocalKafkaCluster::RunTool(const std::string& main_class,
                                               const std::vector<std::string>& args) {
  std::vector<std::string> script_args = {"run-class", main_class};
  script_args.insert(script_args.end(), args.begin(), args.end());
  std::string out;
  SC_RETURN_IF_ERROR(RunScript(script_args, &out));
  return out;
}

Status LocalKafkaCluster::CreateTopic(const std::string& name, int partitions, int replication) {
  SC_RETURN_IF_ERROR(
      RunScript({"create-topic", "--dir", dir_, "--topic", name, "--partitions",
                 std::to_string(partitions), "--replication", std::to_string(replication)}));
  // The controller has the topic; wait until a broker's metadata shows a leader for every
  // partition.
  const std::string header =
      "topic \"" + name + "\" with " + std::to_string(partitions) + " partitions:";
  std::string last;
  Status failed;
  const bool ready = test::WaitUntil(
      [&] {
        auto r = test::RunProcess({"kcat", "-L", "-b", bootstrap_, "-t", name, "-m", "5"});
        if (!r.ok()) failed = r.status();
        if (!r.ok()) return true;
        last = r->out + r->err;
        return r->exit_code == 0 && r->out.find(header) != std::string::npos &&
               r->out.find("leader -1") == std::string::npos &&
               r->out.find("Broker:") == std::string::npos;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200));
  SC_RETURN_IF_ERROR(failed);
  if (ready) return Status::OK();
  return Status::Timeout("topic " + name +
                         " was created but its partitions have no leaders after 60 s:\n" +
                         test::LastLines(last, 20));
}

}  // namespace smartcity
