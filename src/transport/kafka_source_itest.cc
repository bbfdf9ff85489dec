// KafkaSource against a real Apache Kafka (LocalKafkaCluster): several kafka_group_member processes
// in one consumer group read five co-partitioned topics and write exactly-once output (see
// group_member_testmain.cc). Members are kill -9'd at random moments; the union of the committed
// output must hold every record exactly once, by topic/partition/offset and by payload, and every
// assignment must have been co-partitioned.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "testing/files.h"
#include "testing/subprocess.h"
#include "testing/wait.h"
#include "transport/kafka_cluster_testutil.h"
#include "transport/kafka_source.h"
#include "transport/kafka_source_testutil.h"

namespace smartcity {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr int32_t kPartitions = 6;

// A member process; killed with SIGKILL if the test ends while it still runs.
class MemberProcess {
 public:
  MemberProcess(const std::string& bootstrap, const std::string& group, const std::string& dir,
                const std::string& name, const std::string& prefix, double max_rate)
      : name_(name) {
    std::vector<std::string> args = {SMARTCITY_KAFKA_GROUP_MEMBER,
                                     "--bootstrap",
                                     bootstrap,
                                     "--group",
                                     group,
                                     "--dir",
                                     dir,
                                     "--name",
                                     name,
                                     "--topic-prefix",
                                     prefix,
                                     "--batch",
                                     "1000",
                                     "--checkpoint-ms",
                                     "50",
                                     "--max-runtime-s",
                                     "300"};
    if (max_rate > 0) {
      args.push_back("--max-rate");
      args.push_back(std::to_string(max_rate));
    }
    auto p = test::Subprocess::Start(args, {.output_file = dir + "/" + name + ".log"});
    EXPECT_TRUE(p.ok()) << p.status().message();
    if (p.ok()) process_.emplace(std::move(*p));
  }
  bool started() const { return process_.has_value(); }
  const std::string& name() const { return name_; }

  // SIGKILL: no revocation, no last checkpoint.
  void Kill9() {
    ASSERT_TRUE(process_.has_value()) << name_ << " is not running";
    const test::ExitStatus s = process_->Kill();
    EXPECT_TRUE(s.KilledBy(SIGKILL)) << name_ << " was already gone (" << s.ToString() << ")";
    process_.reset();
  }
  // SIGTERM: checkpoint, revoke, leave the group; returns the exit code (-1 if it had to be
  // killed).
  int Stop() {
    if (!process_) return -1;
    const test::ExitStatus s = process_->Stop(seconds(60));
    process_.reset();
    return s.signal == 0 ? s.code : -1;
  }
  // True while the process runs (reaps it if it exited).
  bool Running() {
    if (process_ && !process_->Running()) process_.reset();
    return process_.has_value();
  }

 private:
  std::string name_;
  std::optional<test::Subprocess> process_;
};

struct CkptEntry {
  int64_t offset = -1;  // -1: none
  int64_t length = 0;
};

// ckpt/p<p>: topic -> (next offset, output length).
std::map<std::string, CkptEntry> ReadCheckpoint(const std::string& dir, int32_t p) {
  std::map<std::string, CkptEntry> m;
  std::ifstream in(dir + "/ckpt/p" + std::to_string(p));
  std::string topic, offset;
  int64_t length;
  while (in >> topic >> offset >> length)
    m[topic] = {offset == "-" ? -1 : std::stoll(offset), length};
  return m;
}

// Records covered by the checkpoints so far.
int64_t CheckpointedRecords(const std::string& dir) {
  int64_t n = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    for (const auto& [topic, e] : ReadCheckpoint(dir, p)) n += std::max<int64_t>(0, e.offset);
  }
  return n;
}

class KafkaSourceITest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = LocalKafkaCluster::Start(1);
    ASSERT_TRUE(c.ok()) << c.status().message();
    cluster_ = c->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string(info->name()) + "_";
    for (Topic t : kAllTopics) names_[t] = prefix_ + std::string(DefaultTopicName(t));
    tmp_ = std::make_unique<test::TempDir>("smartcity-kafka-source");
    dir_ = tmp_->string();
  }
  void TearDown() override {
    if (tmp_) tmp_->Keep(HasFailure());  // the members' output, for the failure
    tmp_.reset();
  }

  // Creates the five topics and fills them: devices x per_device events each.
  void Fill(int devices, int per_device) {
    for (Topic t : kAllTopics) ASSERT_TRUE(cluster_->CreateTopic(names_[t], kPartitions, 1).ok());
    records_ = MakeTestRecords(devices, per_device, kPartitions, names_);
    Status s = ProduceTestRecords(cluster_->bootstrap(), records_, names_, milliseconds(120'000));
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::unique_ptr<MemberProcess> StartMember(const std::string& name, double max_rate) {
    auto m = std::make_unique<MemberProcess>(cluster_->bootstrap(), prefix_ + "group", dir_, name,
                                             prefix_, max_rate);
    EXPECT_TRUE(m->started());
    return m;
  }

  bool AllCheckpointed(seconds limit) {
    const auto total = static_cast<int64_t>(records_.size());
    return test::WaitUntil([&] { return CheckpointedRecords(dir_) == total; }, limit);
  }

  std::string MemberLogs() const {
    std::string s;
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (e.path().extension() == ".log")
        s += "--- " + e.path().filename().string() + "\n" + test::ReadFile(e.path());
    }
    return s;
  }

  // The committed output: every record exactly once (by offset and by payload), checkpoints at the
  // ends with lengths equal to the files, and every assignment co-partitioned.
  void VerifyOutput() {
    std::map<std::pair<Topic, int32_t>, std::vector<std::string>> expected;
    for (const TestRecord& r : records_) expected[{r.topic, r.partition}].push_back(r.value);
    size_t lines_total = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      const auto ckpt = ReadCheckpoint(dir_, p);
      for (Topic t : kAllTopics) {
        const auto& want = expected[{t, p}];
        const std::string path = dir_ + "/out/" + names_[t] + "-" + std::to_string(p) + ".dat";
        const std::string data = test::ReadFile(path);
        ASSERT_TRUE(ckpt.contains(names_[t]))
            << "no checkpoint for " << names_[t] << "[" << p << "]";
        EXPECT_EQ(ckpt.at(names_[t]).offset, static_cast<int64_t>(want.size())) << path;
        EXPECT_EQ(ckpt.at(names_[t]).length, static_cast<int64_t>(data.size())) << path;
        std::stringstream ss(data);
        std::string line;
        int64_t next_offset = 0;
        std::multiset<std::string> payloads;
        while (std::getline(ss, line)) {
          const size_t tab = line.find('\t');
          ASSERT_NE(tab, std::string::npos) << path << ": " << line;
          const int64_t offset = std::stoll(line.substr(0, tab));
          // In order, each offset once: a duplicate or a gap shows up here.
          ASSERT_EQ(offset, next_offset) << path << " (duplicate or lost record)";
          ++next_offset;
          payloads.insert(line.substr(tab + 1));
          ++lines_total;
        }
        EXPECT_EQ(next_offset, static_cast<int64_t>(want.size())) << path;
        EXPECT_EQ(payloads, std::multiset<std::string>(want.begin(), want.end())) << path;
      }
    }
    EXPECT_EQ(lines_total, records_.size());

    // Co-partitioning: every assignment gave a member the same partition numbers of all five
    // topics.
    std::stringstream log(test::ReadFile(dir_ + "/assignments.log"));
    std::string line;
    int assignments = 0;
    while (std::getline(log, line)) {
      const size_t at = line.find(" assigned");
      if (at == std::string::npos) continue;
      ++assignments;
      std::string rest = line.substr(at + 9);
      if (rest.empty()) continue;  // an empty assignment (more members than partitions)
      std::stringstream parts(rest.substr(1));
      std::string topic_parts;
      std::set<std::string> topics;
      std::string first;
      while (std::getline(parts, topic_parts, ';')) {
        const size_t colon = topic_parts.find(':');
        topics.insert(topic_parts.substr(0, colon));
        const std::string nums = topic_parts.substr(colon + 1);
        if (first.empty()) first = nums;
        EXPECT_EQ(nums, first) << "not co-partitioned: " << line;
      }
      EXPECT_EQ(topics.size(), kTopicCount) << line;
    }
    EXPECT_GE(assignments, 2);
  }

  // The partition numbers `member` owned in its last assignment ("" if none).
  std::string LastAssignment(const std::string& member) {
    std::stringstream log(test::ReadFile(dir_ + "/assignments.log"));
    std::string line, last;
    while (std::getline(log, line)) {
      if (line.rfind(member + " assigned", 0) == 0) last = line;
    }
    const size_t colon = last.find(':');
    if (colon == std::string::npos) return "";
    return last.substr(colon + 1, last.find(';') - colon - 1);
  }

  static LocalKafkaCluster* cluster_;
  std::string prefix_;
  TopicNames names_;
  std::unique_ptr<test::TempDir> tmp_;
  std::string dir_;
  std::vector<TestRecord> records_;
};

LocalKafkaCluster* KafkaSourceITest::cluster_ = nullptr;

TEST_F(KafkaSourceITest, TwoMembersReadEveryRecordExactlyOnce) {
  Fill(200, 200);  // 200k records
  auto a = StartMember("a", 0);
  auto b = StartMember("b", 0);
  ASSERT_TRUE(AllCheckpointed(seconds(240)))
      << CheckpointedRecords(dir_) << " of " << records_.size() << "\n"
      << MemberLogs();
  EXPECT_EQ(a->Stop(), 0) << MemberLogs();
  EXPECT_EQ(b->Stop(), 0) << MemberLogs();
  VerifyOutput();
}

TEST_F(KafkaSourceITest, KilledMemberIsTakenOverWithoutLossOrDuplicates) {
  Fill(200, 200);
  const int64_t total = static_cast<int64_t>(records_.size());
  std::random_device rd;
  const unsigned seed = rd();
  std::mt19937 rng(seed);
  const int64_t kill_at = total * std::uniform_int_distribution<int>(10, 60)(rng) / 100;
  SCOPED_TRACE("seed " + std::to_string(seed) + ", kill after " + std::to_string(kill_at) +
               " records");
  // Throttled so the kill lands mid-run (about 10 s for both together).
  auto a = StartMember("a", 10000);
  auto b = StartMember("b", 10000);
  ASSERT_TRUE(test::WaitUntil([&] { return CheckpointedRecords(dir_) >= kill_at; }, seconds(240)))
      << MemberLogs();
  ASSERT_TRUE(a->Running()) << MemberLogs();
  std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(0, 49)(rng)));
  a->Kill9();
  ASSERT_LT(CheckpointedRecords(dir_), total) << "the kill came too late to test a takeover";
  ASSERT_TRUE(AllCheckpointed(seconds(240))) << CheckpointedRecords(dir_) << " of " << total << "\n"
                                             << MemberLogs();
  EXPECT_EQ(LastAssignment("b"), "0,1,2,3,4,5") << MemberLogs();
  EXPECT_EQ(b->Stop(), 0) << MemberLogs();
  VerifyOutput();
}

TEST_F(KafkaSourceITest, KilledMembersRestartAndShareAgain) {
  Fill(200, 200);
  const int64_t total = static_cast<int64_t>(records_.size());
  std::random_device rd;
  const unsigned seed = rd();
  std::mt19937 rng(seed);
  const int64_t first_kill = total * std::uniform_int_distribution<int>(10, 35)(rng) / 100;
  const int64_t second_kill = total * std::uniform_int_distribution<int>(45, 70)(rng) / 100;
  SCOPED_TRACE("seed " + std::to_string(seed) + ", kills after " + std::to_string(first_kill) +
               " and " + std::to_string(second_kill) + " records");
  auto a = StartMember("a", 8000);
  auto b = StartMember("b", 8000);
  ASSERT_TRUE(
      test::WaitUntil([&] { return CheckpointedRecords(dir_) >= first_kill; }, seconds(240)))
      << MemberLogs();
  a->Kill9();
  auto a2 = StartMember("a2", 8000);  // restarted at once: joins while a's session has not expired
  ASSERT_TRUE(
      test::WaitUntil([&] { return CheckpointedRecords(dir_) >= second_kill; }, seconds(240)))
      << MemberLogs();
  b->Kill9();
  ASSERT_LT(CheckpointedRecords(dir_), total) << "the kill came too late to test a takeover";
  auto b2 = StartMember("b2", 8000);
  ASSERT_TRUE(AllCheckpointed(seconds(240))) << CheckpointedRecords(dir_) << " of " << total << "\n"
                                             << MemberLogs();
  EXPECT_EQ(a2->Stop(), 0) << MemberLogs();
  EXPECT_EQ(b2->Stop(), 0) << MemberLogs();
  VerifyOutput();
}

// Against the real broker: the source's own error paths are clear and bounded.
TEST_F(KafkaSourceITest, MissingAndUnevenTopicsAreRefused) {
  KafkaSourceOptions o;
  o.kafka.bootstrap_servers = cluster_->bootstrap();
  o.kafka.topics = names_;
  o.group_id = prefix_ + "group";
  o.connect_timeout = seconds(3);
  EarliestPositions earliest;
  auto missing = KafkaSource::Open(o, earliest, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), ErrorKind::kNotFound) << missing.status().message();
  for (Topic t : kAllTopics) {
    ASSERT_TRUE(cluster_->CreateTopic(names_[t], t == Topic::kEmergency ? 2 : kPartitions, 1).ok());
  }
  auto uneven = KafkaSource::Open(o, earliest, nullptr);
  ASSERT_FALSE(uneven.ok());
  EXPECT_EQ(uneven.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(uneven.status().message().find(names_[Topic::kEmergency] + " has 2"), std::string::npos)
      << uneven.status().message();
}

// The broker goes away under a reading source: Poll reports it (retryable, bounded), and once the
// broker is back reading continues at the same positions.
TEST_F(KafkaSourceITest, UnreachableBrokerIsReportedAndReadingResumes) {
  Fill(10, 20);  // 1000 records
  KafkaSourceOptions o;
  o.kafka.bootstrap_servers = cluster_->bootstrap();
  o.kafka.topics = names_;
  o.kafka.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "1000"}};
  o.group_id = prefix_ + "group";
  o.unavailable_timeout = seconds(3);
  MemoryCheckpoint ckpt;
  auto src = KafkaSource::Open(o, ckpt, &ckpt);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ckpt.Attach(src->get());
  std::set<std::tuple<Topic, int32_t, int64_t>> seen;
  auto read_until = [&](size_t n, seconds limit) {
    const auto deadline = steady_clock::now() + limit;
    while (seen.size() < n && steady_clock::now() < deadline) {
      auto batch = (*src)->Poll(500, milliseconds(200));
      if (!batch.ok()) continue;  // transient while the group settles after the restart
      for (const SourceRecord& r : *batch) {
        EXPECT_TRUE(seen.insert({r.topic, r.partition.value(), r.position.value()}).second)
            << "read twice";
      }
    }
  };
  read_until(records_.size(), seconds(60));
  ASSERT_EQ(seen.size(), records_.size());
  // The owner's periodic checkpoint: the outage outlasts the session timeout, so the group takes
  // the partitions away (lost: no checkpoint on revoke) and gives them back from this checkpoint.
  ckpt.Save((*src)->Positions());

  ASSERT_TRUE(cluster_->StopNode(1).ok());
  Status down;
  const auto deadline = steady_clock::now() + seconds(90);
  while (down.ok() && steady_clock::now() < deadline) {
    const auto before = steady_clock::now();
    auto batch = (*src)->Poll(500, milliseconds(200));
    EXPECT_LT(steady_clock::now() - before, seconds(5))
        << "Poll must not hang while the broker is down";
    if (!batch.ok()) down = batch.status();
  }
  EXPECT_EQ(down.kind(), ErrorKind::kUnavailable) << down.message();
  EXPECT_TRUE(down.IsRetryable());
  EXPECT_NE(down.message().find("is the broker running"), std::string::npos) << down.message();

  ASSERT_TRUE(cluster_->StartNode(1).ok());
  std::vector<TestRecord> more = MakeTestRecords(10, 20, kPartitions, names_);
  Status s = ProduceTestRecords(cluster_->bootstrap(), more, names_, milliseconds(120'000));
  ASSERT_TRUE(s.ok()) << s.message();
  read_until(records_.size() + more.size(), seconds(120));
  EXPECT_EQ(seen.size(), records_.size() + more.size());
  EXPECT_TRUE((*src)->Close().ok());
}

// A transactional producer: committed and aborted transactions, and every partition ends with an
// abort marker (partitions no key maps to hold nothing but aborted records and markers). The source
// returns exactly the committed records, and once it has read them its lag is 0 everywhere: by the
// ends it last saw and by a fresh query.
TEST_F(KafkaSourceITest, TransactionMarkersAreNotLagAndAbortedRecordsNeverArrive) {
  for (Topic t : kAllTopics) ASSERT_TRUE(cluster_->CreateTopic(names_[t], kPartitions, 1).ok());
  // 3 devices over 6 partitions: some partitions get no committed record.
  const std::vector<TestRecord> first = MakeTestRecords(3, 10, kPartitions, names_);
  std::vector<TestRecord> poisoned = MakeTestRecords(3, 2, kPartitions, names_);
  for (TestRecord& r : poisoned) r.value = "aborted " + r.value;
  std::vector<TestRecord> second = MakeTestRecords(3, 10, kPartitions, names_);
  for (TestRecord& r : second) r.value = "second " + r.value;
  std::vector<TestRecord> tail;
  for (Topic t : kAllTopics) {
    for (int32_t p = 0; p < kPartitions; ++p) tail.push_back({t, p, "tail", "aborted tail"});
  }
  const std::string bootstrap = cluster_->bootstrap();
  ASSERT_TRUE(ProduceTransaction(bootstrap, first, names_, /*commit=*/true).ok());
  ASSERT_TRUE(ProduceTransaction(bootstrap, poisoned, names_, /*commit=*/false).ok());
  ASSERT_TRUE(ProduceTransaction(bootstrap, second, names_, /*commit=*/true).ok());
  ASSERT_TRUE(ProduceTransaction(bootstrap, tail, names_, /*commit=*/false).ok());

  KafkaSourceOptions o;
  o.kafka.bootstrap_servers = bootstrap;
  o.kafka.topics = names_;
  o.kafka.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "1000"}};
  o.group_id = prefix_ + "group";
  MemoryCheckpoint ckpt;
  auto src = KafkaSource::Open(o, ckpt, &ckpt);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ckpt.Attach(src->get());
  const size_t want = first.size() + second.size();
  std::multiset<std::string> got;
  auto caught_up = [](const std::vector<PartitionLag>& lag) {
    if (lag.size() != kTopicCount * kPartitions) return false;
    for (const PartitionLag& l : lag) {
      if (l.records_behind != std::optional<int64_t>(0)) return false;
    }
    return true;
  };
  const auto deadline = steady_clock::now() + seconds(60);
  while (steady_clock::now() < deadline && !(got.size() >= want && caught_up((*src)->Lag()))) {
    auto batch = (*src)->Poll(500, milliseconds(200));
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    for (const SourceRecord& r : *batch) got.emplace(r.value);
  }
  std::multiset<std::string> expected;
  for (const TestRecord& r : first) expected.insert(r.value);
  for (const TestRecord& r : second) expected.insert(r.value);
  EXPECT_EQ(got, expected) << "aborted records arrived, or committed ones are missing";
  const std::vector<PartitionLag> lag = (*src)->Lag();
  EXPECT_TRUE(caught_up(lag)) << "the markers count as unread records";
  for (const PartitionLag& l : lag) {
    // The ends are past the markers; the positions are after the last committed record.
    ASSERT_TRUE(l.end.has_value());
    EXPECT_GT(l.end->value(), l.position ? l.position->value() : 0) << ToString(l.tp, names_);
  }
  auto fresh = (*src)->QueryLag();
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_TRUE(caught_up(*fresh));
  EXPECT_TRUE((*src)->Close().ok());
}

}  // namespace
}  // namespace smartcity
