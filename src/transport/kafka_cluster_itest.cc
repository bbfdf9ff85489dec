// Proves the LocalKafkaCluster fixture against a real Kafka: topics, produce/consume with kcat (no
// code of ours on the data path), the Kafka tools, and node kill/stop/restart in a 3-node cluster.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "testing/subprocess.h"
#include "testing/wait.h"
#include "transport/kafka_cluster_testutil.h"

namespace smartcity {
namespace {

#define ASSERT_OK(expr)                                                 \
  do {                                                                  \
    const ::smartcity::Status assert_ok_status_ = (expr);               \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_.message(); \
  } while (0)

std::vector<std::string> SortedLines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Produces "key:value" lines with kcat; fails the test on error.
void Produce(const LocalKafkaCluster& cluster, const std::string& topic, const std::string& lines) {
  auto r = test::RunProcess(
      {"kcat", "-P", "-b", cluster.bootstrap(), "-t", topic, "-K", ":", "-X", "acks=all"},
      {.input = lines});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->exit_code, 0) << r->err;
}

// Reads the whole topic with kcat as "key:value" lines, sorted.
std::vector<std::string> ConsumeAll(const LocalKafkaCluster& cluster, const std::string& topic) {
  auto r = test::RunProcess(
      {"kcat", "-C", "-b", cluster.bootstrap(), "-t", topic, "-e", "-q", "-f", "%k:%s\\n"});
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return {};
  EXPECT_EQ(r->exit_code, 0) << r->err;
  return SortedLines(r->out);
}

// Brokers listed in metadata fetched from `bootstrap`, or -1 when no broker answered.
int MetadataBrokerCount(const std::string& bootstrap) {
  auto r = test::RunProcess({"kcat", "-L", "-b", bootstrap, "-m", "5"});
  if (!r.ok() || r->exit_code != 0) return -1;
  size_t pos = r->out.find(" brokers:");
  if (pos == std::string::npos) return -1;
  size_t start = r->out.rfind('\n', pos);
  return std::stoi(r->out.substr(start == std::string::npos ? 0 : start + 1, pos));
}

// Polls until metadata lists `want` brokers (a killed broker stays listed until it is fenced).
bool WaitForBrokerCount(const std::string& bootstrap, int want) {
  return test::WaitUntil([&] { return MetadataBrokerCount(bootstrap) == want; },
                         std::chrono::seconds(60), std::chrono::milliseconds(250));
}

// True while `pid` runs. A zombie (exited, not yet reaped by whoever adopted it) does not run.
bool ProcessRuns(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

std::vector<int> NodePids(const std::string& dir, int nodes) {
  std::vector<int> pids;
  for (int i = 1; i <= nodes; ++i) {
    std::ifstream f(dir + "/node-" + std::to_string(i) + "/pid");
    int pid = 0;
    if (f >> pid) pids.push_back(pid);
  }
  return pids;
}

TEST(LocalKafkaCluster, SingleNodeServesTopicsAndToolsAndCleansUp) {
  auto started = LocalKafkaCluster::Start(1);
  ASSERT_TRUE(started.ok()) << started.status().message();
  std::unique_ptr<LocalKafkaCluster> cluster = std::move(started).value();
  ASSERT_EQ(cluster->bootstrap().rfind("127.0.0.1:", 0), 0u) << cluster->bootstrap();
  EXPECT_NE(cluster->bootstrap(), "127.0.0.1:9092");
  EXPECT_EQ(MetadataBrokerCount(cluster->bootstrap()), 1);
  std::ifstream bootstrap_file(cluster->dir() + "/bootstrap");
  std::string from_file;
  bootstrap_file >> from_file;
  EXPECT_EQ(from_file, cluster->bootstrap());

  ASSERT_OK(cluster->CreateTopic("itest_events", 2, 1));
  Produce(*cluster, "itest_events", "k1:alpha\nk2:beta\nk3:gamma\nk4:delta\n");
  EXPECT_EQ(ConsumeAll(*cluster, "itest_events"),
            (std::vector<std::string>{"k1:alpha", "k2:beta", "k3:gamma", "k4:delta"}));

  // The tools run from the same jars and see what was written, on disk and over the wire.
  auto topics = cluster->RunTool("org.apache.kafka.tools.TopicCommand",
                                 {"--bootstrap-server", cluster->bootstrap(), "--list"});
  ASSERT_TRUE(topics.ok()) << topics.status().message();
  EXPECT_EQ(SortedLines(*topics), std::vector<std::string>{"itest_events"});
  std::string segments;
  for (int p = 0; p < 2; ++p) {
    std::string segment = cluster->dir() + "/node-1/data/itest_events-" + std::to_string(p) +
                          "/00000000000000000000.log";
    auto dump =
        cluster->RunTool("kafka.tools.DumpLogSegments", {"--files", segment, "--print-data-log"});
    ASSERT_TRUE(dump.ok()) << dump.status().message();
    segments += *dump;
  }
  for (const char* value :
       {"payload: alpha", "payload: beta", "payload: gamma", "payload: delta"}) {
    EXPECT_NE(segments.find(value), std::string::npos) << value << " not in\n" << segments;
  }
  // Topics are never created implicitly: a typo must fail loudly.
  auto missing = test::RunProcess(
      {"kcat", "-L", "-b", cluster->bootstrap(), "-t", "no_such_topic", "-m", "5"});
  ASSERT_TRUE(missing.ok());
  EXPECT_NE(missing->out.find("Unknown topic"), std::string::npos) << missing->out;
  // A failing tool is an error carrying its message, not an empty success.
  EXPECT_FALSE(cluster->RunTool("org.apache.kafka.tools.NoSuchTool", {}).ok());

  // Destruction stops every JVM and removes the directory.
  const std::string dir = cluster->dir();
  const std::vector<int> pids = NodePids(dir, 1);
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(ProcessRuns(pids[0]));
  cluster.reset();
  if (std::getenv("SMARTCITY_KEEP_KAFKA_DIR") == nullptr) {
    EXPECT_FALSE(std::filesystem::exists(dir));
  }
  EXPECT_FALSE(ProcessRuns(pids[0])) << "broker process " << pids[0] << " still runs";
}

TEST(LocalKafkaCluster, ThreeNodesSurviveAKilledNodeAndRestartIt) {
  auto started = LocalKafkaCluster::Start(3);
  ASSERT_TRUE(started.ok()) << started.status().message();
  std::unique_ptr<LocalKafkaCluster> cluster = std::move(started).value();
  ASSERT_EQ(cluster->nodes(), 3);
  EXPECT_EQ(MetadataBrokerCount(cluster->bootstrap()), 3);

  ASSERT_OK(cluster->CreateTopic("replicated", 3, 3));
  Produce(*cluster, "replicated", "a:1\nb:2\nc:3\n");

  const int node2_port_before =
      std::stoi(cluster->NodeAddress(2).substr(cluster->NodeAddress(2).find(':') + 1));
  ASSERT_OK(cluster->KillNode(2));
  // The survivors keep serving metadata and data; the dead node drops out once fenced.
  EXPECT_TRUE(WaitForBrokerCount(cluster->bootstrap(), 2));
  EXPECT_EQ(MetadataBrokerCount(cluster->NodeAddress(2)), -1) << "killed node still answers";
  Produce(*cluster, "replicated", "d:4\n");
  EXPECT_EQ(ConsumeAll(*cluster, "replicated"),
            (std::vector<std::string>{"a:1", "b:2", "c:3", "d:4"}));

  // Restarted, it keeps its port and its data and rejoins.
  ASSERT_OK(cluster->StartNode(2));
  EXPECT_EQ(MetadataBrokerCount(cluster->NodeAddress(2)), 3);
  EXPECT_EQ(std::stoi(cluster->NodeAddress(2).substr(cluster->NodeAddress(2).find(':') + 1)),
            node2_port_before);
  EXPECT_TRUE(std::filesystem::exists(cluster->dir() + "/node-2/data/replicated-0"));

  // A clean stop and start of another node works the same way.
  ASSERT_OK(cluster->StopNode(3));
  EXPECT_TRUE(WaitForBrokerCount(cluster->bootstrap(), 2));
  ASSERT_OK(cluster->StartNode(3));
  EXPECT_TRUE(WaitForBrokerCount(cluster->bootstrap(), 3));
  EXPECT_EQ(ConsumeAll(*cluster, "replicated"),
            (std::vector<std::string>{"a:1", "b:2", "c:3", "d:4"}));

  const std::string dir = cluster->dir();
  const std::vector<int> pids = NodePids(dir, 3);
  ASSERT_EQ(pids.size(), 3u);
  cluster.reset();
  for (int pid : pids) EXPECT_FALSE(ProcessRuns(pid)) << "broker process " << pid << " still runs";
  if (std::getenv("SMARTCITY_KEEP_KAFKA_DIR") == nullptr) {
    EXPECT_FALSE(std::filesystem::exists(dir));
  }
}

}  // namespace
}  // namespace smartcity
