// Test support: a real Apache Kafka cluster (KRaft, 1..N combined broker+controller nodes on
// 127.0.0.1) started through scripts/kafka.sh in a fresh temporary directory. Tests drive kcat with
// test::RunProcess (testing/subprocess.h).
//
// Ownership: a LocalKafkaCluster owns its JVMs and its directory; destroying it stops every node
// and removes the directory (set SMARTCITY_KEEP_KAFKA_DIR=1 to keep the directory for debugging).
// If the test process dies without running the destructor, a watchdog started by the script stops
// the cluster once this process is gone.
//
// Thread-safety: none; use one cluster from one thread (the test body).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "testing/files.h"
#include "testing/subprocess.h"

namespace smartcity {

class LocalKafkaCluster {
 public:
  // Starts `nodes` nodes via scripts/kafka.sh (found through SMARTCITY_SOURCE_DIR) in a fresh temp
  // dir and waits until every broker is registered. Fetches the Kafka jars on first use.
  static Result<std::unique_ptr<LocalKafkaCluster>> Start(int nodes = 1);

  LocalKafkaCluster(const LocalKafkaCluster&) = delete;
  LocalKafkaCluster& operator=(const LocalKafkaCluster&) = delete;
  ~LocalKafkaCluster();  // stops the cluster and removes its dir

  // "127.0.0.1:p1,127.0.0.1:p2,..." in node order; ports stay the same across node restarts.
  const std::string& bootstrap() const { return bootstrap_; }
  // The cluster's directory: node-I/server.log, node-I/data/<topic>-<partition>/ ...
  const std::string& dir() const { return dir_; }
  int nodes() const { return nodes_; }
  // "127.0.0.1:pI": one node's broker listener. REQUIRES: 1 <= node <= nodes().
  std::string NodeAddress(int node) const;

  // Node ids are 1..nodes(). StopNode is a clean shutdown (SIGTERM); KillNode is SIGKILL. StartNode
  // restarts a stopped or killed node with its data and ports and waits until it is registered.
  Status StopNode(int node);
  Status StartNode(int node);
  Status KillNode(int node);

  // Runs a Kafka CLI tool class from the same jars, e.g. ("kafka.tools.DumpLogSegments",
  // {"--files", path, "--print-data-log"}); returns its stdout. A non-zero exit is an error that
  // carries the end of the tool's stderr.
  Result<std::string> RunTool(const std::string& main_class, const std::vector<std::string>& args);

  // Creates a topic with the Kafka tools (nothing of ours involved) and waits until every partition
  // has a leader in the metadata a client sees.
  Status CreateTopic(const std::string& name, int partitions, int replication);

 private:
  LocalKafkaCluster(std::string script, std::unique_ptr<test::TempDir> dir, std::string bootstrap,
                    int nodes);
  Status RunScript(const std::vector<std::string>& args, std::string* out = nullptr);

  std::string script_;
  std::unique_ptr<test::TempDir> temp_dir_;
  std::string dir_;
  std::string bootstrap_;
  std::vector<std::string> node_addresses_;
  int nodes_;
};

}  // namespace smartcity
