// smartcity topics create|describe|delete: the five topics of SPEC section 2, co-partitioned (the
// same partition count for all five, so one vehicle's events have the same partition number in
// each), with replication, retention and compression settings.
//
// create is idempotent: a topic that exists with the asked partition count is fine (its configs are
// left as they are); one with another partition count is an error, because it breaks
// co-partitioning. Impossible settings (more replicas than brokers, zero partitions) are refused
// with exit code 2.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "cli/command.h"
#include "cli/kafka_options.h"
#include "transport/kafka_client.h"
#include "transport/kafka_source.h"

namespace smartcity::cli {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

struct TopicsArgs {
  KafkaConnectionArgs conn;
  TopicNames topics;
  int32_t partitions = 6;
  int16_t replication_factor = 1;
  std::string retention = "7d";
  std::string compression = "producer";
  Micros timeout{std::chrono::seconds(15)};
  // delete: the internal repartition topics of these `stream` groups (only those, unless
  // delete_inputs).
  std::vector<std::string> repartition_groups;
  bool delete_inputs = false;
};

std::vector<std::string> Names(const TopicNames& topics) {
  std::vector<std::string> out;
  for (Topic t : kAllTopics) out.push_back(topics[t]);
  return out;
}

std::string JoinIds(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

// "7d" -> "604800000"; "infinite" / "-1" -> "-1" (Kafka keeps everything).
Result<std::string> RetentionMs(const std::string& text) {
  if (text == "infinite" || text == "-1") return std::string("-1");
  auto d = ParseDuration(text);
  if (!d.ok()) return Status::InvalidArgument("--retention: " + d.status().message());
  const auto ms = duration_cast<milliseconds>(*d).count();
  if (ms < 1) return Status::InvalidArgument("--retention must be at least 1ms, or 'infinite'");
  return std::to_string(ms);
}

// Connects and reads the cluster's metadata; the unreachable case is one clear sentence.
Result<std::pair<std::unique_ptr<KafkaAdmin>, ClusterMetadata>> Connect(TopicsArgs& a) {
  SC_RETURN_IF_ERROR(a.conn.Finish(a.topics));
  SC_ASSIGN_OR_RETURN(auto admin, KafkaAdmin::Open(a.conn.kafka));
  SC_ASSIGN_OR_RETURN(auto md, admin->Metadata(duration_cast<milliseconds>(a.timeout)));
  return std::make_pair(std::move(admin), std::move(md));
}

int Create(TopicsArgs& a) {
  auto retention = RetentionMs(a.retention);
  if (!retention.ok()) return ReportError(retention.status());
  const std::string retention_ms = *retention;
  auto conn = Connect(a);
  if (!conn.ok()) return ReportError(conn.status());
  auto& [admin, md] = *conn;
  const milliseconds timeout = duration_cast<milliseconds>(a.timeout);
  const auto brokers = static_cast<int>(md.brokers.size());
  if (a.replication_factor > brokers) {
    return ReportError(Status::InvalidArgument(
        "replication factor " + std::to_string(a.replication_factor) +
        " is impossible: the cluster at " + a.conn.kafka.bootstrap_servers + " has " +
        std::to_string(brokers) + " broker(s); use --replication-factor " +
        std::to_string(brokers) + " or add brokers"));
  }
  // With acks=all, a write needs min.insync.replicas copies: one fewer than the replicas (at most
  // 2) keeps producing through the loss of one broker without ever acknowledging a single copy.
  const int min_isr = std::max(1, std::min<int>(2, a.replication_factor - 1));
  std::vector<NewTopicSpec> specs;
  for (Topic t : kAllTopics) {
    specs.push_back({a.topics[t],
                     a.partitions,
                     a.replication_factor,
                     {{"retention.ms", retention_ms},
                      {"compression.type", a.compression},
                      {"min.insync.replicas", std::to_string(min_isr)}}});
  }
  auto outcomes = admin->CreateTopics(specs, timeout);
  if (!outcomes.ok()) return ReportError(outcomes.status());
  // Partition counts of topics that were already there.
  auto after = admin->Metadata(timeout);
  int exit_code = kExitOk;
  for (const TopicOutcome& o : *outcomes) {
    if (o.status.ok()) {
      std::printf(
          "created %s: %d partitions, replication factor %d, retention %s, compression.type %s\n",
          o.name.c_str(), a.partitions, a.replication_factor, a.retention.c_str(),
          a.compression.c_str());
      continue;
    }
    if (o.status.kind() == ErrorKind::kAlreadyExists) {
      const TopicMetadata* tm = after.ok() ? after->Find(o.name) : nullptr;
      const int have = tm != nullptr ? static_cast<int>(tm->partitions.size()) : -1;
      if (have == a.partitions) {
        std::printf("%s already exists with %d partitions: left as it is\n", o.name.c_str(), have);
        continue;
      }
      std::fprintf(stderr,
                   "smartcity: %s already exists with %d partitions, not %d: the five topics must "
                   "have the same "
                   "partition count to stay co-partitioned; delete it (smartcity topics delete) or "
                   "create all "
                   "five with --partitions %d\n",
                   o.name.c_str(), have, a.partitions, have);
      exit_code = std::max(exit_code, kExitFailure);
      continue;
    }
    exit_code = std::max(exit_code, ReportError(o.status));
  }
  return exit_code;
}

// Configs worth showing even at their defaults: what decides retention, compression and durability.
const std::set<std::string> kShownConfigs = {
    "cleanup.policy",  "compression.type", "max.message.bytes", "min.insync.replicas",
    "retention.bytes", "retention.ms",     "segment.bytes"};

int Describe(TopicsArgs& a) {
  auto conn = Connect(a);
  if (!conn.ok()) return ReportError(conn.status());
  auto& [admin, md] = *conn;
  const milliseconds timeout = duration_cast<milliseconds>(a.timeout);
  std::vector<std::string> present;
  for (const std::string& n : Names(a.topics)) {
    if (md.Find(n) != nullptr) present.push_back(n);
  }
  std::map<std::string, TopicConfigs> configs;
  if (!present.empty()) {
    auto c = admin->DescribeTopicConfigs(present, timeout);
    if (!c.ok()) return ReportError(c.status());
    for (auto& tc : *c) configs[tc.name] = std::move(tc);
  }
  std::printf("cluster %s: %zu broker(s)\n", a.conn.kafka.bootstrap_servers.c_str(),
              md.brokers.size());
  int exit_code = kExitOk;
  std::set<size_t> partition_counts;
  for (const std::string& n : Names(a.topics)) {
    const TopicMetadata* tm = md.Find(n);
    if (tm == nullptr) {
      std::printf("%s: does not exist (create it with: smartcity topics create)\n", n.c_str());
      exit_code = kExitFailure;
      continue;
    }
    partition_counts.insert(tm->partitions.size());
    const size_t rf = tm->partitions.empty() ? 0 : tm->partitions[0].replicas.size();
    std::printf("%s: %zu partitions, replication factor %zu\n", n.c_str(), tm->partitions.size(),
                rf);
    for (const PartitionMetadata& p : tm->partitions) {
      std::printf("  partition %d: leader %d, replicas %s, isr %s%s\n", p.id.value(), p.leader,
                  JoinIds(p.replicas).c_str(), JoinIds(p.isr).c_str(),
                  p.isr.size() < p.replicas.size() ? " (under-replicated)" : "");
    }
    auto it = configs.find(n);
    if (it == configs.end()) continue;
    if (!it->second.status.ok()) {
      std::printf("  configs: %s\n", it->second.status.message().c_str());
      continue;
    }
    std::string line;
    for (const ConfigValue& v : it->second.entries) {
      if (v.source != "DYNAMIC_TOPIC_CONFIG" && kShownConfigs.count(v.name) == 0) continue;
      line += " " + v.name + "=" + v.value;
    }
    std::printf("  configs:%s\n", line.c_str());
  }
  if (partition_counts.size() > 1) {
    std::printf(
        "warning: the topics have different partition counts, so they are not co-partitioned\n");
    exit_code = kExitFailure;
  }
  return exit_code;
}

int Delete(TopicsArgs& a) {
  auto conn = Connect(a);
  if (!conn.ok()) return ReportError(conn.status());
  auto& [admin, md] = *conn;
  std::vector<std::string> present;
  // A retired group's internal topics are deleted without the input topics other groups still
  // read: those go only when asked for (or when no group is named).
  std::vector<std::string> names;
  if (a.repartition_groups.empty() || a.delete_inputs) names = Names(a.topics);
  for (const std::string& group : a.repartition_groups) {
    for (Topic t : kAllTopics) {
      if (IsJoinInputTopic(t)) names.push_back(RepartitionTopicName(group, a.topics[t]));
    }
  }
  for (const std::string& n : names) {
    if (md.Find(n) != nullptr) {
      present.push_back(n);
    } else {
      std::printf("%s: not there, nothing to delete\n", n.c_str());
    }
  }
  if (present.empty()) return kExitOk;
  auto outcomes = admin->DeleteTopics(present, duration_cast<milliseconds>(a.timeout));
  if (!outcomes.ok()) return ReportError(outcomes.status());
  int exit_code = kExitOk;
  for (const TopicOutcome& o : *outcomes) {
    if (o.status.ok()) {
      std::printf("deleted %s\n", o.name.c_str());
    } else if (o.status.kind() == ErrorKind::kNotFound) {
      std::printf("%s: not there, nothing to delete\n", o.name.c_str());
    } else {
      exit_code = std::max(exit_code, ReportError(o.status));
    }
  }
  return exit_code;
}

void AddCommonOptions(CLI::App* app, TopicsArgs* a) {
  AddKafkaConnectionOptions(app, &a->conn);
  AddTopicNameOptions(app, &a->topics);
  AddDurationOption(app, "--timeout", &a->timeout,
                    "How long to wait for the cluster to answer each request");
}

}  // namespace

void RegisterTopics(CLI::App& root, CommandList& commands) {
  // One TopicsArgs per subcommand: CLI11 applies environment variables to the options of every
  // subcommand, given or not, so shared targets would let describe's KAFKA_BOOTSTRAP_SERVERS
  // overwrite create's --bootstrap-servers. Static: they live for the whole process, like the App.
  static TopicsArgs create_storage, describe_storage, delete_storage;
  TopicsArgs* args = &create_storage;
  TopicsArgs* describe_args = &describe_storage;
  TopicsArgs* delete_args = &delete_storage;
  CLI::App* topics =
      root.add_subcommand("topics", "Create, describe or delete the five Kafka topics");
  topics->require_subcommand(1, 1);

  CLI::App* create = topics->add_subcommand("create",
                                            "Create the five topics with the same partition count "
                                            "(co-partitioned); existing ones are fine");
  create
      ->add_option("--partitions", args->partitions,
                   "Partitions of each topic (the same for all five)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  create->add_option("--replication-factor", args->replication_factor, "Copies of each partition")
      ->check(CLI::Range(1, 32767))
      ->capture_default_str();
  create
      ->add_option("--retention", args->retention,
                   "How long Kafka keeps events (e.g. 7d, 12h, infinite)")
      ->capture_default_str();
  create
      ->add_option(
          "--compression", args->compression,
          "Topic compression.type: producer (keep the producer's batches), lz4, zstd, snappy, gzip "
          "or uncompressed")
      ->check(CLI::IsMember({"producer", "lz4", "zstd", "snappy", "gzip", "uncompressed"}))
      ->capture_default_str();
  AddCommonOptions(create, args);
  commands.push_back({create, [args] { return Create(*args); }});

  CLI::App* describe = topics->add_subcommand(
      "describe", "Show each topic's partitions (leader, replicas, in-sync replicas) and configs");
  AddCommonOptions(describe, describe_args);
  commands.push_back({describe, [describe_args] { return Describe(*describe_args); }});

  CLI::App* del = topics->add_subcommand(
      "delete", "Delete the five topics and everything in them (or a group's repartition topics)");
  AddCommonOptions(del, delete_args);
  CLI::Option* groups =
      del->add_option("--repartition-group", delete_args->repartition_groups,
                      "Delete the internal repartition topics of this retired `stream` group "
                      "(<group>-repartition-<topic>) instead of the five topics; repeatable");
  del->add_flag("--inputs", delete_args->delete_inputs,
                "With --repartition-group: delete the five topics as well")
      ->needs(groups);
  commands.push_back({del, [delete_args] { return Delete(*delete_args); }});
}

}  // namespace smartcity::cli
