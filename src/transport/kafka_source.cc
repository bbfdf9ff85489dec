#include "transport/kafka_source.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "common/mutex.h"
#include "common/process_stats.h"

namespace smartcity {
namespace {

using std::chrono::milliseconds;

// What is left until `deadline`, in whole milliseconds (rounded up), for librdkafka's timeouts.
int ToTimeoutMs(Clock& clock, ProcessingTime deadline) {
  const auto left = std::chrono::ceil<milliseconds>(deadline - clock.Now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1'000'000'000));
}

std::string Seconds(milliseconds d) {
  const int64_t ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// How often an unreachable-looking cluster is probed, and how long a probe may wait.
constexpr milliseconds kProbeEvery{1000};
constexpr milliseconds kProbeWait{500};

// The origin header of a repartition record (KafkaForwarder): "<partition>:<offset>".
Status ReadOrigin(rd_kafka_message_t* m, PartitionId* partition, SourcePosition* position) {
  rd_kafka_headers_t* headers = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_header_get_last(headers, kRepartitionOriginHeader, &value, &size) ==
          RD_KAFKA_RESP_ERR_NO_ERROR &&
      value != nullptr) {
    const std::string_view v(static_cast<const char*>(value), size);
    const size_t colon = v.find(':');
    int32_t p = -1;
    int64_t o = -1;
    if (colon != std::string_view::npos &&
        std::from_chars(v.data(), v.data() + colon, p).ec == std::errc() &&
        std::from_chars(v.data() + colon + 1, v.data() + v.size(), o).ec == std::errc() && p >= 0 &&
        o >= 0) {
      *partition = PartitionId(p);
      *position = SourcePosition(o);
      return Status::OK();
    }
  }
  return Status::Corruption(
      std::string("a record of the repartition topic ") + rd_kafka_topic_name(m->rkt) + "[" +
      std::to_string(m->partition) + "] at offset " + std::to_string(m->offset) + " has no valid " +
      kRepartitionOriginHeader + " header: only smartcity stream members may write there");
}

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};

// How often at most the fetcher is woken, and how long one wake-up request may take.
constexpr auto kWakeEvery = std::chrono::milliseconds(10);
constexpr int kWakeTimeoutMs = 500;

}  // namespace

// librdkafka 2.0 (Debian 12's) stops fetching while its prefetch queue is over
// queued.max.messages.kbytes and decides again only when its broker thread next wakes up: on a
// request to send, a response, or after a second of nothing (librdkafka 2.2 added
// fetch.queue.backoff.ms for this). With a queue smaller than a second of input — any
// --memory-limit — a backlog drain read in one-second steps, idle most of each
// (docs/kafka_source.md, "Waking the fetcher"). A request to a partition's leader wakes the broker
// thread that fetches it, so when the queue runs low this thread asks the leader for the
// partition's offsets (the cheapest request there is) and the fetcher looks at the queue again at
// once. Its own thread, because the request is a round trip and Poll must not wait for it.
class FetchWaker {
 public:
  explicit FetchWaker(rd_kafka_t* rk)
      : rk_(rk), thread_([this] {
          NameThisThread("sc-kafka-waker");
          Run();
        }) {}
  ~FetchWaker() {
    {
      MutexLock l(&mu_);
      stop_ = true;
    }
    cv_.Signal();
    thread_.join();
  }
  FetchWaker(const FetchWaker&) = delete;
  FetchWaker& operator=(const FetchWaker&) = delete;

  // Asks for a request to `topic`'s `partition`'s leader; false (and nothing asked) while one is
  // still under way.
  bool Wake(const std::string& topic, int32_t partition) {
    {
      MutexLock l(&mu_);
      if (pending_) return false;
      pending_ = true;
      topic_ = topic;
      partition_ = partition;
    }
    cv_.Signal();
    return true;
  }

 private:
  void Run() {
    MutexLock l(&mu_);
    while (true) {
      while (!stop_ && !pending_) cv_.Wait(&mu_);
      if (stop_) return;
      const std::string topic = topic_;
      const int32_t partition = partition_;
      mu_.Unlock();
      // The answer does not matter, only that the request went through the broker's thread. One
      // ListOffsets request for the end, waited for at most kWakeTimeoutMs (librdkafka 2.0's
      // query_watermark_offsets sends two and bounds only its leader lookup: after an outage it
      // could hold Close() for a whole socket timeout).
      RdKafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset =
          RD_KAFKA_OFFSET_END;
      (void)rd_kafka_offsets_for_times(rk_, list.get(), kWakeTimeoutMs);
      mu_.Lock();
      pending_ = false;
    }
  }

  rd_kafka_t* const rk_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  bool pending_ GUARDED_BY(mu_) = false;
  std::string topic_ GUARDED_BY(mu_);
  int32_t partition_ GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: starts once the members above exist
};

KafkaSource::KafkaSource(KafkaSourceOptions options, PositionStore& store,
                         RebalanceListener* listener)
    : options_(std::move(options)),
      clock_(Clock::OrReal(options_.clock)),
      store_(store),
      listener_(listener) {}

KafkaSource::~KafkaSource() {
  if (rk_ == nullptr) return;
  // A source dropped without Close() still leaves the group cleanly (bounded), so the others get
  // its partitions at once instead of after session.timeout.ms.
  (void)Close();
  StopWaker();
  ReleaseBatch();
  rd_kafka_destroy_flags(rk_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

std::vector<std::pair<std::string, std::string>> PrefetchProperties(uint64_t bytes) {
  // Fetch size: our producer's batches are large (linger, up to 100k messages, lz4), and with
  // librdkafka's 1 MiB per partition a fetch brings about one batch per partition: measured, a
  // backlog drain ran at 0.2 M events/s, with 4 MiB 0.5 M.
  uint64_t partition_fetch = 4ull << 20, fetch = 16ull << 20;
  // Prefetch. librdkafka checks the queue limit against the one queue all partitions feed, and
  // once over it it stops fetching and looks again only about a second later
  // (docs/kafka_source.md): the queue must hold a second of input at full speed or the processor
  // idles. With 100,000 messages and 16 MiB a drain ran in one-second steps at ~0.5 M events/s;
  // with 96 MiB, 0.77-0.85 M, at the same RSS (the old limits were overshot by whole 100 MiB
  // fetches).
  uint64_t queue = 96ull << 20;
  if (bytes > 0) {
    // Under a budget. The client holds several times the limits it is given (the queue limit counts
    // records by their payload while whole decompressed batches stay in memory until their last
    // record is destroyed, and a fetch is counted compressed): with the limits summing to the
    // budget, a 32 MiB share held about 130 MiB (heaptrack). So the queue gets a quarter of it and
    // one fetch a sixteenth (at least the 1 MiB librdkafka allows), a partition's share of a fetch
    // a quarter of that. Small queues no longer slow a drain down: the fetcher is woken as soon as
    // the queue runs low (FetchWaker). At --memory-limit 256 (8 MiB, 2 MiB, 512 KiB) a 3 M-event
    // drain peaked at 250-255 MiB against 336-356 with the limits summing to the share, at 0.92x
    // the reading speed (within the runs' spread; bench/RESULTS.md).
    fetch = std::clamp<uint64_t>(bytes / 16, 1ull << 20, fetch);
    partition_fetch = std::clamp<uint64_t>(fetch / 4, 256ull << 10, partition_fetch);
    queue = std::clamp<uint64_t>(bytes / 4, 1ull << 20, queue);  // never above the unbounded one
  }
  return {{"max.partition.fetch.bytes", std::to_string(partition_fetch)},
          {"fetch.max.bytes", std::to_string(fetch)},
          {"queued.max.messages.kbytes", std::to_string(queue >> 10)}};
}

std::optional<int64_t> RecordsBehind(std::optional<SourcePosition> position, int64_t low,
                                     int64_t end, const std::optional<EndReached>& reached) {
  std::optional<int64_t> at;
  if (position) {
    at = position->value();
  } else if (low >= 0) {
    at = low;
  }
  // Everything from `after` to the end the fetch reached holds no record to return: a member
  // anywhere in that stretch has read up to its end.
  if (reached && (!at || *at < reached->at.value())) {
    const bool covered = !reached->after || (position && *position >= *reached->after);
    if (covered) at = reached->at.value();
  }
  if (!at) return std::nullopt;
  return std::max<int64_t>(0, end - *at);
}

Result<std::unique_ptr<KafkaSource>> KafkaSource::Open(const KafkaSourceOptions& options,
                                                       PositionStore& store,
                                                       RebalanceListener* listener) {
  if (options.group_id.empty()) {
    return Status::InvalidArgument("the Kafka consumer group id is empty: give --group a name");
  }
  if (options.topics.empty()) return Status::InvalidArgument("no topics to read from");
  std::unique_ptr<KafkaSource> source(new KafkaSource(options, store, listener));
  SC_RETURN_IF_ERROR(source->Start());
  return source;
}

Status KafkaSource::Start() {
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"group.id", options_.group_id},
      // Positions come from our checkpoints, never from Kafka.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // A checkpointed offset Kafka no longer has is an error, not a skip.
      {"auto.offset.reset", "error"},
      // Same partition numbers of every topic to one member.
      {"partition.assignment.strategy", "range"},
      // Transactional producers: only committed records, never an aborted one.
      {"isolation.level", "read_committed"},
      // Tells when a fetch reached a partition's end, past the transaction markers (EndReached).
      {"enable.partition.eof", "true"},
      {"allow.auto.create.topics", "false"},
      // Fetch and queue sizes: PrefetchProperties.
      {"queued.min.messages", "1000000"},
      {"session.timeout.ms", std::to_string(options_.session_timeout.count())},
  };
  if (!options_.instance_id.empty())
    defaults.emplace_back("group.instance.id", options_.instance_id);
  for (auto& p : PrefetchProperties(options_.max_prefetch_bytes)) defaults.push_back(std::move(p));
  SC_ASSIGN_OR_RETURN(RdKafkaConfPtr conf, MakeKafkaConf(options_.kafka, defaults));
  {
    // Only the eager `range` assignor keeps partition groups together (see the header); refuse an
    // override here rather than fail on the first assignment.
    char value[256];
    size_t size = sizeof value;
    if (rd_kafka_conf_get(conf.get(), "partition.assignment.strategy", value, &size) ==
            RD_KAFKA_CONF_OK &&
        std::string_view(value) != "range") {
      return Status::InvalidArgument(
          std::string("partition.assignment.strategy=") + value +
          " would split partition groups across members: the Kafka source needs range");
    }
  }
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaSource::RebalanceTrampoline);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &KafkaSource::CommitTrampoline);
  // Client-wide errors (all brokers down, fatal errors) come here, served inside Poll; they are not
  // returned as consumer messages.
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaSource::ErrorTrampoline);
  SC_ASSIGN_OR_RETURN(rk_, MakeKafkaHandle(RD_KAFKA_CONSUMER, std::move(conf)));
  // One queue for messages, errors and callbacks: everything is served by rd_kafka_consumer_poll.
  rd_kafka_poll_set_consumer(rk_.get());
  {
    char value[64];
    size_t size = sizeof value;
    if (rd_kafka_conf_get(rd_kafka_conf(rk_.get()), "queued.max.messages.kbytes", value, &size) ==
        RD_KAFKA_CONF_OK) {
      queue_limit_bytes_ = std::strtoull(value, nullptr, 10) << 10;
    }
  }
  if (options_.wake_fetcher) {
    consumer_queue_ = rd_kafka_queue_get_consumer(rk_.get());
    waker_ = std::make_unique<FetchWaker>(rk_.get());
  }

  SC_RETURN_IF_ERROR(CheckTopics());
  if (options_.repartition) {
    for (Topic t : options_.topics) {
      if (IsJoinInputTopic(t)) {
        repartition_names_[static_cast<size_t>(t)] =
            RepartitionTopicName(options_.group_id, options_.kafka.topics[t]);
      }
    }
    SC_ASSIGN_OR_RETURN(std::vector<std::string> created, EnsureRepartitionTopics());
    SC_RETURN_IF_ERROR(WaitForRepartitionMetadata(created));
  }

  RetryOptions rejoin;
  rejoin.initial_backoff = milliseconds(200);
  rejoin.max_backoff = milliseconds(2000);
  rejoin.deadline = options_.connect_timeout;
  rejoin_policy_ = RetryPolicy(rejoin, clock_);
  subscribed_at_ = clock_->Now();
  SC_RETURN_IF_ERROR(Subscribe());
  records_.reserve(1024);
  messages_.reserve(1024);
  return Status::OK();
}

Status KafkaSource::Subscribe() {
  const std::vector<TopicPartition> subscribed = Subscribed();
  RdKafkaPartitionListPtr subscription(
      rd_kafka_topic_partition_list_new(static_cast<int>(subscribed.size())));
  for (const TopicPartition& tp : subscribed) {
    rd_kafka_topic_partition_list_add(subscription.get(), NameOf(tp).c_str(),
                                      RD_KAFKA_PARTITION_UA);
  }
  return KafkaStatus(rd_kafka_subscribe(rk_.get(), subscription.get()),
                     "cannot subscribe to the topics as group " + options_.group_id);
}

Status KafkaSource::CheckTopics() {
  const ProcessingTime deadline = clock_->Now() + options_.connect_timeout;
  const std::string where = "Kafka at " + options_.kafka.bootstrap_servers;
  std::vector<std::string> missing;
  std::vector<std::string> not_ready;
  bool answered = false;  // the cluster answered at least once: report what it said, not a timeout
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    // At least a second per round trip, so the last try before the deadline is not doomed.
    const rd_kafka_resp_err_t err = rd_kafka_metadata(
        rk_.get(), 1, nullptr, &md, std::max(1000, ToTimeoutMs(*clock_, deadline)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && !answered) {
      if (clock_->Now() >= deadline) {
        return Status::Unavailable(
            "cannot reach " + where + " within " + Seconds(options_.connect_timeout) + " (" +
            rd_kafka_err2str(err) +
            "): is the broker running? check --bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS");
      }
      clock_->SleepFor(milliseconds(200));
      continue;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) md = nullptr;  // keep the previous answer's findings
    std::vector<std::pair<std::string, int>> counts;
    if (md != nullptr) {
      answered = true;
      missing.clear();
      not_ready.clear();
    }
    for (Topic t : options_.topics) {
      if (md == nullptr) break;
      const std::string& name = options_.kafka.topics[t];
      const rd_kafka_metadata_topic_t* found = nullptr;
      for (int i = 0; i < md->topic_cnt; ++i) {
        if (name == md->topics[i].topic) found = &md->topics[i];
      }
      if (found == nullptr || found->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        missing.push_back(name);
      } else if (found->err != RD_KAFKA_RESP_ERR_NO_ERROR || found->partition_cnt == 0) {
        not_ready.push_back(name);
      } else {
        counts.emplace_back(name, found->partition_cnt);
      }
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    if (md != nullptr && missing.empty() && not_ready.empty()) {
      const int first = counts.front().second;
      for (const auto& [name, n] : counts) {
        if (n != first) {
          std::string list;
          for (const auto& [nm, c] : counts)
            list += (list.empty() ? "" : ", ") + nm + " has " + std::to_string(c);
          return Status::InvalidArgument("the topics are not co-partitioned (" + list +
                                         " partitions): a vehicle's events would be split across "
                                         "consumers; recreate them with one partition "
                                         "count (smartcity topics create --partitions N)");
        }
      }
      partition_count_ = first;
      return Status::OK();
    }
    if (clock_->Now() >= deadline) {
      auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
        return s;
      };
      if (!missing.empty()) {
        return Status::NotFound("Kafka topic(s) " + join(missing) + " do not exist at " +
                                options_.kafka.bootstrap_servers +
                                ": create them with `smartcity topics create`");
      }
      return Status::Unavailable("Kafka topic(s) " + join(not_ready) + " at " +
                                 options_.kafka.bootstrap_servers + " have no leader yet after " +
                                 Seconds(options_.connect_timeout) + ": is the cluster healthy?");
    }
    clock_->SleepFor(milliseconds(250));
  }
}

// --- callbacks ----------------------------------------------------------------------------------

void KafkaSource::RebalanceTrampoline(rd_kafka_t*, rd_kafka_resp_err_t err,
                                      rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaSource*>(opaque)->OnRebalance(err, partitions);
}

Status KafkaSource::FatalStatus(rd_kafka_resp_err_t err, const char* reason) const {
  if (err == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID) {
    // Not retried: the other process keeps the id (and its partitions) until one of them changes.
    const std::string id = options_.instance_id.empty() ? "" : " " + options_.instance_id;
    return Status::InvalidArgument("another member of group " + options_.group_id +
                                   " joined with the same instance id" + id +
                                   " (--instance-id): each member needs its own; this one stops");
  }
  return Status::Unavailable("the Kafka consumer hit a fatal error (" +
                             std::string(rd_kafka_err2name(err)) + ": " + reason + "); restart it");
}

void KafkaSource::ErrorTrampoline(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    if (self->sticky_.ok()) self->sticky_ = self->FatalStatus(orig, buf);
    return;
  }
  ++self->counters_.transport_errors;
  // Any connection trouble starts the clock; CheckReachable() decides, with a round trip, whether
  // the cluster as a whole is gone (one broker of several restarting is not).
  const bool connection = code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
                          code == RD_KAFKA_RESP_ERR__TRANSPORT ||
                          code == RD_KAFKA_RESP_ERR__RESOLVE;
  if (connection && !self->unreachable_since_) {
    self->unreachable_since_ = self->clock_->Now();
  }
  (void)reason;
}

void KafkaSource::CommitTrampoline(rd_kafka_t*, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t*, void* opaque) {
  // Monitoring commits only: a failure costs nothing but a stale lag display.
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    ++static_cast<KafkaSource*>(opaque)->commit_failures_;
  }
}

CoPartitioning CheckCoPartitioning(std::span<const std::set<int32_t>> partitions) {
  const std::set<int32_t>* present = nullptr;
  bool missing = false;
  for (const std::set<int32_t>& set : partitions) {
    if (set.empty()) {
      missing = true;
    } else if (present == nullptr) {
      present = &set;
    } else if (*present != set) {
      return CoPartitioning::kSplit;
    }
  }
  return present != nullptr && missing ? CoPartitioning::kTopicsMissing : CoPartitioning::kWhole;
}

void KafkaSource::OnRebalance(rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* partitions) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
      Assign(partitions);
      break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
      Revoke(partitions, rd_kafka_assignment_lost(rk_.get()) != 0);
      break;
    default: {
      // A failed rebalance: librdkafka wants the assignment cleared; whatever we owned may already
      // be someone else's, so it counts as lost.
      ++counters_.transport_errors;
      RdKafkaPartitionListPtr all(rd_kafka_topic_partition_list_new(0));
      for (const TopicPartition& tp : Assignment()) {
        rd_kafka_topic_partition_list_add(all.get(), NameOf(tp).c_str(), tp.partition.value());
      }
      Revoke(all.get(), /*lost=*/true);
      break;
    }
  }
}

std::vector<TopicPartition> KafkaSource::ToTopicPartitions(
    const rd_kafka_topic_partition_list_t* list) const {
  std::vector<TopicPartition> tps;
  if (list == nullptr) return tps;
  tps.reserve(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    // Only subscribed topics can be assigned; anything else would be a librdkafka bug.
    TopicPartition tp = Lookup(list->elems[i].topic).value_or(TopicPartition{});
    tp.partition = PartitionId(list->elems[i].partition);
    tps.push_back(tp);
  }
  return tps;
}

void KafkaSource::Assign(rd_kafka_topic_partition_list_t* partitions) {
  ++counters_.assignments;
  if (closing_) {
    // An assignment that raced with Close(): take nothing, tell nobody; the group revokes it next.
    rd_kafka_assign(rk_.get(), nullptr);
    return;
  }
  if (!sticky_.ok()) {
    // The source has failed (its owner sees that from Poll and closes): take nothing.
    RdKafkaPartitionListPtr nothing(rd_kafka_topic_partition_list_new(0));
    rd_kafka_assign(rk_.get(), nothing.get());
    return;
  }
  std::vector<TopicPartition> tps = ToTopicPartitions(partitions);
  Status s;
  for (int i = 0; partitions != nullptr && i < partitions->cnt; ++i) {
    if (!Lookup(partitions->elems[i].topic)) {
      s = Status::Internal(
          std::string("the group assigned a topic this member did not subscribe to: ") +
          partitions->elems[i].topic);
    }
  }
  // Co-partitioning: over the whole assignment after this change, every partition number present in
  // one subscribed topic must be present in all of them.
  if (s.ok()) {
    std::map<size_t, std::set<int32_t>> by_topic;
    for (const TopicPartition& tp : Subscribed()) by_topic[Slot(tp)];
    for (const TopicPartition& tp : Assignment()) by_topic[Slot(tp)].insert(tp.partition.value());
    for (const TopicPartition& tp : tps) by_topic[Slot(tp)].insert(tp.partition.value());
    const auto name_of = [&](size_t slot) {
      return NameOf({static_cast<Topic>(slot % kTopicCount), PartitionId(0), slot >= kTopicCount});
    };
    std::vector<std::set<int32_t>> sets;
    for (const auto& [t, set] : by_topic) sets.push_back(set);
    const CoPartitioning shape = CheckCoPartitioning(sets);
    if (shape != CoPartitioning::kWhole) {
      std::string missing;
      std::string detail;
      for (const auto& [t, set] : by_topic) {
        if (set.empty()) missing += (missing.empty() ? "" : ", ") + name_of(t);
        detail += (detail.empty() ? "" : "; ") + name_of(t) + ":";
        for (int32_t p : set) detail += " " + std::to_string(p);
      }
      DeclineAssignment(
          shape == CoPartitioning::kTopicsMissing
              ? Status::Unavailable(
                    "the group assigned this member partitions of some topics but none of " +
                    missing +
                    ": the brokers' metadata does not list it (a topic just created, or a broker "
                    "behind); check the topics and the brokers' health (smartcity topics "
                    "describe)")
              : Status::InvalidArgument(
                    "the group gave this member an assignment that is not co-partitioned (" +
                    detail +
                    "): use partition.assignment.strategy=range, the same partition count for "
                    "every topic and the same topics in every member"));
      return;
    }
  }
  if (s.ok()) {
    // A whole assignment ends a row of declined ones.
    rejoin_attempts_.reset();
    rejoin_at_.reset();
    rejoins_ = 0;
  }
  std::vector<std::optional<SourcePosition>> starts(tps.size());
  if (s.ok()) s = store_.LoadPositions(tps, starts);
  if (s.ok()) {
    for (size_t i = 0; i < tps.size(); ++i) {
      if (starts[i] && starts[i]->value() < 0) {
        s = Status::Corruption("the checkpointed position of " +
                               ToString(tps[i], options_.kafka.topics) + " is " +
                               std::to_string(starts[i]->value()) + ", not an offset");
      }
    }
  }
  if (!s.ok()) {
    // Take nothing: the owner sees the error from Poll and is expected to Close(), which hands
    // these partitions to another member.
    if (sticky_.ok()) sticky_ = s;
    rd_kafka_assign(rk_.get(), nullptr);
    return;
  }

  RdKafkaPartitionListPtr list(rd_kafka_topic_partition_list_copy(partitions));
  for (size_t i = 0; i < tps.size(); ++i) {
    // An explicit start for every partition: RD_KAFKA_OFFSET_INVALID would make librdkafka fall
    // back to the group offsets committed in Kafka, which are for monitoring only.
    list->elems[i].offset = starts[i] ? starts[i]->value() : RD_KAFKA_OFFSET_BEGINNING;
  }
  // Eager protocol (Open() allows only `range`): the list is the whole new assignment.
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (sticky_.ok()) sticky_ = KafkaStatus(err, "cannot take the assigned partitions");
    return;
  }
  std::vector<PartitionPosition> positions;
  positions.reserve(tps.size());
  for (size_t i = 0; i < tps.size(); ++i) {
    PartitionState& st = State(tps[i]);
    st.owned = true;
    st.delivered = starts[i];
    st.fetched = starts[i];
    positions.push_back({tps[i], starts[i]});
  }
  std::sort(positions.begin(), positions.end(),
            [](const PartitionPosition& a, const PartitionPosition& b) { return a.tp < b.tp; });
  if (listener_ != nullptr) listener_->OnPartitionsAssigned(positions);
}

void KafkaSource::DeclineAssignment(const Status& why) {
  // An empty assignment, not none: NULL would be an unassign, after which librdkafka waits for
  // the assign call and postpones the rejoin forever.
  RdKafkaPartitionListPtr nothing(rd_kafka_topic_partition_list_new(0));
  rd_kafka_assign(rk_.get(), nothing.get());
  ++counters_.declined_assignments;
  declined_ = why;
  if (!rejoin_attempts_) rejoin_attempts_.emplace(rejoin_policy_.Start());
  Status transient = Status::Unavailable(why.message());
  if (rejoin_attempts_->ShouldRetry(&transient)) {
    rejoin_at_ = clock_->Now() + rejoin_attempts_->next_delay();
    return;
  }
  rejoin_at_.reset();
  StopDeclining();
}

void KafkaSource::StopDeclining() {
  if (sticky_.ok()) {
    sticky_ =
        Status(declined_.kind(),
               declined_.message() + " (the group's assignments stayed so for " +
                   Seconds(std::chrono::duration_cast<milliseconds>(rejoin_attempts_->elapsed())) +
                   " and " + std::to_string(rejoins_) + " rejoins)");
  }
}

void KafkaSource::RejoinIfDue() {
  // No bound while waiting for the assignment that follows a rejoin: an eager rebalance lasts until
  // every member has rejoined (a member killed holds it for its session timeout). The next
  // assignment is taken if whole, or ends the row if the deadline has passed.
  if (!rejoin_at_ || !sticky_.ok() || clock_->Now() < *rejoin_at_) return;
  rejoin_at_.reset();
  ++rejoins_;
  // The leader assigns from librdkafka's metadata cache. A broker that answered before it had
  // learnt of a new topic (a repartition topic just created; seen in 1 of 10 runs on 3 brokers)
  // leaves that topic there as unknown, and librdkafka leaves it out of the subscription until its
  // periodic refresh (topic.metadata.refresh.interval.ms, 5 minutes by default): a rejoin alone
  // would be assigned the same. A metadata request first puts what the brokers list now in the
  // cache; if it is the lagging broker that answers again, the next rejoin asks again.
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk_.get(), 1, nullptr, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(md);
  }
  // Eager protocol: the member gives up its (empty) assignment and joins a new generation; the
  // leader assigns from the metadata it has then.
  if (Status s = Subscribe(); !s.ok()) sticky_ = s;
}

void KafkaSource::Revoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  ++counters_.revocations;
  std::vector<TopicPartition> tps = ToTopicPartitions(partitions);
  // Tell the owner only about partitions it was told it had (an assignment refused by Assign() is
  // still revoked by the group later).
  std::erase_if(tps, [&](const TopicPartition& tp) {
    const PartitionState* st = FindState(tp);
    return st == nullptr || !st->owned;
  });
  std::sort(tps.begin(), tps.end());
  DropPending(tps);
  if (listener_ != nullptr && !tps.empty()) listener_->OnPartitionsRevoked(tps, lost);
  rd_kafka_assign(rk_.get(), nullptr);
  for (const TopicPartition& tp : tps) State(tp) = PartitionState{};
}

void KafkaSource::DropPending(const std::vector<TopicPartition>& tps) {
  if (tps.empty()) return;
  size_t kept = 0;
  for (size_t i = 0; i < records_.size(); ++i) {
    const TopicPartition tp{records_[i].topic, records_[i].partition, records_[i].repartition};
    if (std::binary_search(tps.begin(), tps.end(), tp)) {
      rd_kafka_message_destroy(messages_[i]);
      ++counters_.stale_dropped;
    } else {
      records_[kept] = records_[i];
      messages_[kept] = messages_[i];
      ++kept;
    }
  }
  records_.resize(kept);
  messages_.resize(kept);
  for (const TopicPartition& tp : tps) {
    PartitionState& st = State(tp);
    st.fetched = st.delivered;
  }
}

// --- state --------------------------------------------------------------------------------------

KafkaSource::PartitionState& KafkaSource::State(const TopicPartition& tp) {
  auto& v = parts_[Slot(tp)];
  const auto p = static_cast<size_t>(tp.partition.value());
  if (p >= v.size()) v.resize(p + 1);
  return v[p];
}

const KafkaSource::PartitionState* KafkaSource::FindState(const TopicPartition& tp) const {
  const auto& v = parts_[Slot(tp)];
  if (tp.partition.value() < 0 || static_cast<size_t>(tp.partition.value()) >= v.size())
    return nullptr;
  return &v[static_cast<size_t>(tp.partition.value())];
}

std::optional<TopicPartition> KafkaSource::Lookup(std::string_view name) const {
  for (Topic t : options_.topics) {
    if (options_.kafka.topics[t] == name) return TopicPartition{t, PartitionId(0), false};
    const std::string& r = repartition_names_[static_cast<size_t>(t)];
    if (!r.empty() && r == name) return TopicPartition{t, PartitionId(0), true};
  }
  return std::nullopt;
}

const std::string& KafkaSource::NameOf(const TopicPartition& tp) const {
  return tp.repartition ? repartition_names_[static_cast<size_t>(tp.topic)]
                        : options_.kafka.topics[tp.topic];
}

std::vector<TopicPartition> KafkaSource::Subscribed() const {
  std::vector<TopicPartition> v;
  for (Topic t : options_.topics) v.push_back({t, PartitionId(0), false});
  for (Topic t : options_.topics) {
    if (!repartition_names_[static_cast<size_t>(t)].empty()) v.push_back({t, PartitionId(0), true});
  }
  return v;
}

std::string RepartitionTopicName(std::string_view group_id, std::string_view topic) {
  std::string s(group_id);
  s += "-repartition-";
  s += topic;
  return s;
}

Result<std::vector<std::string>> KafkaSource::EnsureRepartitionTopics() {
  SC_ASSIGN_OR_RETURN(std::unique_ptr<KafkaAdmin> admin, KafkaAdmin::Open(options_.kafka));
  SC_ASSIGN_OR_RETURN(ClusterMetadata md, admin->Metadata(options_.connect_timeout));
  // As many replicas as the source topics have (their first partition's), at least one.
  int16_t replication = 1;
  if (const TopicMetadata* src = md.Find(options_.kafka.topics[options_.topics.front()]);
      src != nullptr && !src->partitions.empty()) {
    replication = static_cast<int16_t>(std::max<size_t>(1, src->partitions[0].replicas.size()));
  }
  std::vector<NewTopicSpec> specs;
  for (const std::string& name : repartition_names_) {
    if (name.empty()) continue;
    const TopicMetadata* found = md.Find(name);
    if (found != nullptr && found->error.ok() && !found->partitions.empty()) {
      if (static_cast<int32_t>(found->partitions.size()) != partition_count_) {
        return Status::InvalidArgument(
            "the repartition topic " + name + " has " + std::to_string(found->partitions.size()) +
            " partitions and the input topics " + std::to_string(partition_count_) +
            ": delete it while no member of the group runs (smartcity topics delete "
            "--repartition-group " +
            options_.group_id + " deletes the group's three)");
      }
      continue;
    }
    specs.push_back(NewTopicSpec{name, partition_count_, replication, {}});
  }
  if (specs.empty()) return std::vector<std::string>();
  SC_ASSIGN_OR_RETURN(std::vector<TopicOutcome> outcomes,
                      admin->CreateTopics(specs, options_.connect_timeout));
  std::vector<std::string> names;
  for (const TopicOutcome& o : outcomes) {
    // Another member of the group may have created it first.
    if (!o.status.ok() && o.status.kind() != ErrorKind::kAlreadyExists) return o.status;
    names.push_back(o.name);
  }
  SC_RETURN_IF_ERROR(admin->WaitForTopics(names, options_.connect_timeout));
  return names;
}

Status KafkaSource::WaitForRepartitionMetadata(const std::vector<std::string>& created) {
  const ProcessingTime deadline = clock_->Now() + options_.connect_timeout;
  // Answers come from any broker: three in a row that list every topic whole.
  constexpr int kAnswersInARow = 3;
  int in_a_row = 0;
  std::string waiting_for;
  while (in_a_row < kAnswersInARow) {
    if (clock_->Now() >= deadline) {
      return Status::Timeout("the repartition topic " + waiting_for +
                             " was created, but the brokers did not all list it within " +
                             Seconds(options_.connect_timeout) +
                             ": check the brokers' health (smartcity topics describe)");
    }
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(
        rk_.get(), 1, nullptr, &md, std::max(1000, ToTimeoutMs(*clock_, deadline)));
    bool all = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (const std::string& name : repartition_names_) {
      if (!all || name.empty()) continue;
      bool found = false;
      for (int i = 0; i < md->topic_cnt; ++i) {
        found = found ||
                (name == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                 md->topics[i].partition_cnt == partition_count_);
      }
      if (!found) {
        all = false;
        waiting_for = name;
      }
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    in_a_row = all ? in_a_row + 1 : 0;
    if (in_a_row < kAnswersInARow) clock_->SleepFor(milliseconds(100));
  }
  // Every partition's leader must know a topic just created too: the consumer asks it where a
  // partition begins, and a leader that has not learnt of the topic yet answers "unknown topic or
  // partition", after which librdkafka does not fetch the partition (seen in 1 of 50 starts of a
  // new group on 3 brokers). Two requests per partition: only for topics created now.
  for (const std::string& name : created) {
    for (int32_t p = 0; !name.empty() && p < partition_count_; ++p) {
      for (;;) {
        int64_t low = 0;
        int64_t high = 0;
        const rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk_.get(), name.c_str(), p, &low, &high,
                                             std::max(1000, ToTimeoutMs(*clock_, deadline)));
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (clock_->Now() >= deadline) {
          return Status::Timeout("the leader of " + name + "[" + std::to_string(p) +
                                 "] did not know the topic within " +
                                 Seconds(options_.connect_timeout) + " (" + rd_kafka_err2str(err) +
                                 "): check the brokers' health (smartcity topics describe)");
        }
        clock_->SleepFor(milliseconds(100));
      }
    }
  }
  return Status::OK();
}

std::optional<TopicPartition> KafkaSource::TopicOf(rd_kafka_topic_t* rkt) {
  for (const auto& [k, t] : topic_cache_) {
    if (k == rkt) return t;
  }
  const auto t = Lookup(rd_kafka_topic_name(rkt));
  // Messages hold a reference to their topic handle, and librdkafka keeps one handle per topic for
  // the consumer's life, so the pointer is a stable key.
  if (t) topic_cache_.emplace_back(rkt, *t);
  return t;
}

std::vector<TopicPartition> KafkaSource::Assignment() const {
  std::vector<TopicPartition> out;
  for (size_t t = 0; t < parts_.size(); ++t) {
    for (size_t p = 0; p < parts_[t].size(); ++p) {
      if (parts_[t][p].owned)
        out.push_back({static_cast<Topic>(t % kTopicCount), PartitionId(static_cast<int32_t>(p)),
                       t >= kTopicCount});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<PartitionPosition> KafkaSource::Positions() const {
  std::vector<PartitionPosition> out;
  for (size_t t = 0; t < parts_.size(); ++t) {
    for (size_t p = 0; p < parts_[t].size(); ++p) {
      if (parts_[t][p].owned) {
        out.push_back({{static_cast<Topic>(t % kTopicCount), PartitionId(static_cast<int32_t>(p)),
                        t >= kTopicCount},
                       parts_[t][p].delivered});
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const PartitionPosition& a, const PartitionPosition& b) { return a.tp < b.tp; });
  return out;
}

std::string KafkaSource::member_id() const {
  char* id = rd_kafka_memberid(rk_.get());
  if (id == nullptr) return "";
  std::string s(id);
  rd_kafka_mem_free(rk_.get(), id);
  return s;
}

std::string KafkaSource::Describe() const {
  return "kafka " + options_.kafka.bootstrap_servers + " group " + options_.group_id;
}

// --- reading ------------------------------------------------------------------------------------

void KafkaSource::ReleaseBatch() {
  for (rd_kafka_message_t* m : messages_) rd_kafka_message_destroy(m);
  messages_.clear();
  records_.clear();
}

std::optional<Status> KafkaSource::BeginningNotFound(const rd_kafka_message_t* m,
                                                     const std::string& where,
                                                     const std::string& detail) const {
  // A partition read from its beginning (no position checkpointed, nothing read yet) loses nothing
  // when the look-up of where it begins fails: not "records were deleted".
  if (m->rkt == nullptr) return std::nullopt;
  std::optional<TopicPartition> tp = Lookup(rd_kafka_topic_name(m->rkt));
  if (!tp) return std::nullopt;
  tp->partition = PartitionId(m->partition);
  const PartitionState* st = FindState(*tp);
  if (st == nullptr || !st->owned || st->fetched.has_value()) return std::nullopt;
  return Status::Unavailable("cannot find where " + where + " begins (" + detail +
                             "): does the topic exist, and are the brokers healthy? (smartcity "
                             "topics describe)");
}

Status KafkaSource::OnMessageError(const rd_kafka_message_t* m) {
  const rd_kafka_resp_err_t err = m->err;
  std::string where;
  if (m->rkt != nullptr) {
    where = std::string(rd_kafka_topic_name(m->rkt)) + "[" + std::to_string(m->partition) + "]";
  }
  const std::string detail = rd_kafka_message_errstr(m);
  switch (err) {
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
      return Status::OK();
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      if (std::optional<Status> s = BeginningNotFound(m, where, detail)) return *s;
      [[fallthrough]];
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      return Status::Corruption(
          "cannot resume " + where + ": the checkpointed offset is not in Kafka any more (" +
          detail +
          "); records were deleted by retention or the topic was recreated, so resuming "
          "would silently skip data. Start over from an empty checkpoint, or raise retention");
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      if (m->rkt != nullptr && (clock_->Now() - subscribed_at_ < options_.connect_timeout ||
                                rejoin_attempts_.has_value())) {
        // Soon after subscribing (Start() found every topic, so a broker has not learned of one
        // yet: a repartition topic just created), or while declining assignments, a
        // subscribed topic this member owns nothing of is missing from a broker's metadata. An
        // assignment without it is declined and the member rejoins until it is listed, within
        // connect_timeout (DeclineAssignment).
        const std::optional<TopicPartition> t = Lookup(rd_kafka_topic_name(m->rkt));
        if (t && std::none_of(parts_[Slot(*t)].begin(), parts_[Slot(*t)].end(),
                              [](const PartitionState& st) { return st.owned; })) {
          ++counters_.transport_errors;
          return Status::OK();
        }
      }
      if (std::optional<Status> s = BeginningNotFound(m, where, detail)) return *s;
      [[fallthrough]];
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return KafkaStatus(err, "reading " + (where.empty() ? std::string("the topics") : where),
                         detail);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return KafkaStatus(err, "reading from Kafka as group " + options_.group_id, detail);
    case RD_KAFKA_RESP_ERR__FATAL: {
      char buf[512];
      const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
      return FatalStatus(orig, buf);
    }
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
      if (!unreachable_since_) unreachable_since_ = clock_->Now();
      ++counters_.transport_errors;
      return Status::OK();
    default:
      // Everything else (timeouts, leader changes, coordinator moves) librdkafka retries by itself.
      ++counters_.transport_errors;
      return Status::OK();
  }
}

Result<std::span<const SourceRecord>> KafkaSource::Poll(size_t max_records,
                                                        std::chrono::milliseconds timeout) {
  ReleaseBatch();
  if (closed_) return Status::Aborted("the Kafka source is closed");
  if (!sticky_.ok()) return sticky_;
  if (max_records == 0) return Status::InvalidArgument("Poll needs room for at least one record");
  ++counters_.polls;
  const ProcessingTime deadline = clock_->Now() + timeout;
  bool first = true;
  while (records_.size() < max_records) {
    int wait_ms = 0;
    if (records_.empty()) {
      wait_ms = ToTimeoutMs(*clock_, deadline);
      if (wait_ms == 0 && !first) break;
    }
    first = false;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), wait_ms);
    if (!sticky_.ok()) {  // set by a rebalance callback served inside consumer_poll
      if (m != nullptr) rd_kafka_message_destroy(m);
      break;
    }
    if (m == nullptr) {
      if (!records_.empty()) break;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      OnEndReached(m);
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Status s = OnMessageError(m);
      rd_kafka_message_destroy(m);
      if (!s.ok()) {
        sticky_ = s;
        break;
      }
      continue;
    }
    const std::optional<TopicPartition> topic = TopicOf(m->rkt);
    PartitionState* st = nullptr;
    if (topic && m->partition >= 0) {
      auto& states = parts_[Slot(*topic)];
      if (static_cast<size_t>(m->partition) < states.size())
        st = &states[static_cast<size_t>(m->partition)];
    }
    // Not ours any more, from before a seek, or paused (fetched before the pause took effect;
    // Resume seeks back to the position): whoever reads the partition next reads it from its
    // position.
    if (st == nullptr || !st->owned || st->paused ||
        (st->fetched && m->offset < st->fetched->value())) {
      rd_kafka_message_destroy(m);
      ++counters_.stale_dropped;
      continue;
    }
    st->fetched = SourcePosition(m->offset + 1);
    SourceRecord& r = records_.emplace_back();
    r.topic = topic->topic;
    r.repartition = topic->repartition;
    if (r.repartition) {
      // Where the record was first read: the forwarder's header (KafkaForwarder).
      if (Status h = ReadOrigin(m, &r.origin_partition, &r.origin_position); !h.ok()) {
        records_.pop_back();
        rd_kafka_message_destroy(m);
        sticky_ = h;
        break;
      }
    }
    r.partition = PartitionId(m->partition);
    r.position = SourcePosition(m->offset);
    r.key = m->key != nullptr ? std::string_view(static_cast<const char*>(m->key), m->key_len)
                              : std::string_view();
    r.value = m->payload != nullptr ? std::string_view(static_cast<const char*>(m->payload), m->len)
                                    : std::string_view();
    rd_kafka_timestamp_type_t ts_type;
    const int64_t ts_ms = rd_kafka_message_timestamp(m, &ts_type);
    if (ts_type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts_ms >= 0) {
      r.source_time = WallTime(std::chrono::milliseconds(ts_ms));
    } else {
      r.source_time.reset();
    }
    messages_.push_back(m);
  }
  if (!sticky_.ok()) {
    // The batch is not handed out, so positions stay where the owner last saw them.
    for (const SourceRecord& r : records_) {
      PartitionState& st = State({r.topic, r.partition, r.repartition});
      st.fetched = st.delivered;
    }
    ReleaseBatch();
    return sticky_;
  }
  for (const SourceRecord& r : records_) {
    PartitionState& st = State({r.topic, r.partition, r.repartition});
    st.delivered = SourcePosition(r.position.value() + 1);
    if (r.repartition) {
      ++counters_.repartition_records;
      continue;
    }
    const auto t = static_cast<size_t>(r.topic);
    ++counters_.records[t];
    counters_.bytes[t] += r.key.size() + r.value.size();
  }
  if (records_.empty()) ++counters_.empty_polls;
  WakeFetcherIfLow();
  RejoinIfDue();
  if (unreachable_since_) {
    if (records_.empty() && clock_->Now() - *unreachable_since_ >= options_.unavailable_timeout) {
      SC_RETURN_IF_ERROR(CheckReachable());
    } else {
      Probe(kProbeWait);
    }
  }
  return std::span<const SourceRecord>(records_);
}

void KafkaSource::WakeFetcherIfLow() {
  if (waker_ == nullptr || consumer_queue_ == nullptr || queue_limit_bytes_ == 0 ||
      unreachable_since_) {
    return;
  }
  // The queue is low when what it holds, at the records' mean size so far, is under half of the
  // limit (librdkafka counts only the values against it; the mean here includes the keys, so it
  // errs towards waking a little less).
  const uint64_t records = counters_.TotalRecords();
  if (records == 0) return;  // nothing read yet: the fetcher is starting, not waiting
  const uint64_t mean = std::max<uint64_t>(1, counters_.TotalBytes() / records);
  if (rd_kafka_queue_length(consumer_queue_) * mean >= queue_limit_bytes_ / 2) return;
  const ProcessingTime now = clock_->Now();
  if (last_wake_ && now - *last_wake_ < kWakeEvery) return;
  // An owned partition with records past what this member has read, by the ends its fetches saw
  // (RecordsBehind: transaction markers at the end are not records); round robin, so that on a
  // cluster every broker that leads one is woken in turn.
  size_t count = 0;
  for (const auto& states : parts_) count += states.size();
  for (size_t k = 0; k < count; ++k) {
    size_t flat = (wake_cursor_ + k) % count, slot = 0;
    while (flat >= parts_[slot].size()) flat -= parts_[slot++].size();
    const PartitionState& st = parts_[slot][flat];
    if (!st.owned || st.paused || !st.fetched) continue;
    // The fetcher reached the end at or after what was read since: it is waiting at the end (a
    // long poll), not for room in the queue. (The cached end is the high watermark: under an open
    // transaction it stays past the last stable offset, where reading stops.)
    if (st.reached && st.reached->at.value() >= st.fetched->value()) continue;
    const TopicPartition tp{static_cast<Topic>(slot % kTopicCount),
                            PartitionId(static_cast<int32_t>(flat)), slot >= kTopicCount};
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(rk_.get(), NameOf(tp).c_str(), tp.partition.value(), &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0 || RecordsBehind(st.fetched, low, high, st.reached).value_or(0) == 0) {
      continue;
    }
    last_wake_ = now;
    wake_cursor_ = (wake_cursor_ + k + 1) % count;
    if (waker_->Wake(NameOf(tp), tp.partition.value())) ++counters_.fetch_wakeups;
    return;
  }
}

void KafkaSource::StopWaker() {
  waker_.reset();
  if (consumer_queue_ != nullptr) rd_kafka_queue_destroy(consumer_queue_);
  consumer_queue_ = nullptr;
}

void KafkaSource::OnEndReached(const rd_kafka_message_t* m) {
  const std::optional<TopicPartition> topic = m->rkt != nullptr ? TopicOf(m->rkt) : std::nullopt;
  if (!topic || m->partition < 0) return;
  PartitionState* st = nullptr;
  auto& states = parts_[Slot(*topic)];
  if (static_cast<size_t>(m->partition) < states.size())
    st = &states[static_cast<size_t>(m->partition)];
  // A paused partition's fetched records were dropped, so `fetched` is not where its fetch stood;
  // an end before `fetched` is from before a seek.
  if (st == nullptr || !st->owned || st->paused || m->offset < 0 ||
      (st->fetched && m->offset < st->fetched->value())) {
    return;
  }
  // Messages and this event come through one queue in fetch order: every record before the end
  // was taken already, up to `fetched`.
  st->reached = EndReached{st->fetched, SourcePosition(m->offset)};
}

void KafkaSource::Probe(milliseconds wait) {
  const ProcessingTime now = clock_->Now();
  if (last_probe_ && now - *last_probe_ < kProbeEvery) return;
  last_probe_ = now;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk_.get(), 0, nullptr, &md, static_cast<int>(wait.count())) ==
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(md);
    unreachable_since_.reset();
  }
}

Status KafkaSource::CheckReachable() {
  // Brokers only (no topics): a cheap round trip that succeeds once any broker answers again.
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, nullptr, &md, 1000);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(md);
    unreachable_since_.reset();
    return Status::OK();
  }
  return Status::Unavailable(
      "cannot reach Kafka at " + options_.kafka.bootstrap_servers + " for more than " +
      Seconds(options_.unavailable_timeout) +
      ": is the broker running? (the consumer keeps retrying; positions are unchanged)");
}

Status KafkaSource::Seek(std::span<const PartitionPosition> positions) {
  if (closed_) return Status::Aborted("the Kafka source is closed");
  if (!sticky_.ok()) return sticky_;
  RdKafkaPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
  for (const PartitionPosition& p : positions) {
    const PartitionState* st = FindState(p.tp);
    if (st == nullptr || !st->owned) {
      return Status::InvalidArgument("cannot seek " + ToString(p.tp, options_.kafka.topics) +
                                     ": this member does not own it");
    }
    if (p.next && p.next->value() < 0) {
      return Status::InvalidArgument("cannot seek " + ToString(p.tp, options_.kafka.topics) +
                                     " to " + std::to_string(p.next->value()));
    }
    rd_kafka_topic_partition_t* e =
        rd_kafka_topic_partition_list_add(list.get(), NameOf(p.tp).c_str(), p.tp.partition.value());
    e->offset = p.next ? p.next->value() : RD_KAFKA_OFFSET_BEGINNING;
  }
  // librdkafka can give up waiting for the fetcher before the timeout (seen with several members
  // rebalancing on a 3-broker cluster: "Timed out waiting for 3 remaining partition seek(s)" a
  // second after the call). Seeking the same partitions to the same offsets again is harmless, so
  // an early time-out is retried until the request timeout has really passed.
  const ProcessingTime deadline = clock_->Now() + options_.request_timeout;
  for (int attempt = 1;; ++attempt) {
    // At least 1 ms: 0 would make the seek asynchronous.
    rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_.get(), list.get(),
                                                   std::max(1, ToTimeoutMs(*clock_, deadline)));
    if (e == nullptr) break;
    const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    if (code == RD_KAFKA_RESP_ERR__TIMED_OUT && attempt < 100 && clock_->Now() < deadline) {
      rd_kafka_error_destroy(e);
      ++counters_.transport_errors;
      for (int i = 0; i < list->cnt; ++i) list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
      continue;
    }
    Status s = KafkaStatus(code, "cannot seek", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return s;
  }
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaStatus(list->elems[i].err, "cannot seek " + std::string(list->elems[i].topic) +
                                                 "[" + std::to_string(list->elems[i].partition) +
                                                 "]");
    }
  }
  for (const PartitionPosition& p : positions) {
    PartitionState& st = State(p.tp);
    st.delivered = p.next;
    st.fetched = p.next;
  }
  return Status::OK();
}

Result<RdKafkaPartitionListPtr> KafkaSource::OwnedList(std::span<const TopicPartition> partitions,
                                                       std::string_view what) const {
  RdKafkaPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const TopicPartition& tp : partitions) {
    const PartitionState* st = FindState(tp);
    if (st == nullptr || !st->owned) {
      return Status::InvalidArgument("cannot " + std::string(what) + " " +
                                     ToString(tp, options_.kafka.topics) +
                                     ": this member does not own it");
    }
    rd_kafka_topic_partition_list_add(list.get(), NameOf(tp).c_str(), tp.partition.value());
  }
  return list;
}

Status KafkaSource::Pause(std::span<const TopicPartition> partitions) {
  if (closed_) return Status::Aborted("the Kafka source is closed");
  SC_ASSIGN_OR_RETURN(RdKafkaPartitionListPtr list, OwnedList(partitions, "pause"));
  SC_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_pause_partitions(rk_.get(), list.get()), "cannot pause partitions"));
  for (const TopicPartition& tp : partitions) {
    PartitionState& st = State(tp);
    st.paused = true;
    st.fetched = st.delivered;
  }
  return Status::OK();
}

Status KafkaSource::Resume(std::span<const TopicPartition> partitions) {
  if (closed_) return Status::Aborted("the Kafka source is closed");
  SC_ASSIGN_OR_RETURN(RdKafkaPartitionListPtr list, OwnedList(partitions, "resume"));
  // Records fetched while paused were dropped, so restart the fetch at the position.
  std::vector<PartitionPosition> here;
  for (const TopicPartition& tp : partitions) here.push_back({tp, State(tp).delivered});
  for (const TopicPartition& tp : partitions) State(tp).paused = false;
  SC_RETURN_IF_ERROR(Seek(here));
  return KafkaStatus(rd_kafka_resume_partitions(rk_.get(), list.get()), "cannot resume partitions");
}

std::vector<PartitionLag> KafkaSource::Lag() {
  std::vector<PartitionLag> out;
  for (const PartitionPosition& p : Positions()) {
    PartitionLag lag{p.tp, p.next, std::nullopt, std::nullopt};
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(rk_.get(), NameOf(p.tp).c_str(), p.tp.partition.value(),
                                       &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      lag.end = SourcePosition(high);
      // The ends are the last ones fetched: during an outage they say nothing about now.
      if (!unreachable_since_)
        lag.records_behind = RecordsBehind(p.next, low, high, State(p.tp).reached);
    }
    out.push_back(lag);
  }
  return out;
}

Result<std::vector<PartitionLag>> KafkaSource::QueryLag() {
  const std::vector<PartitionPosition> positions = Positions();
  std::vector<PartitionLag> out;
  if (positions.empty()) return out;
  // Every partition in one ListOffsets request per leader: a round trip queues behind the
  // consumer's fetch in flight on the same connection, which the broker holds up to
  // fetch.wait.max.ms when there is nothing new. One round trip per partition and end made a
  // caught-up member with 48 partitions wait ~24 s before it could stop. Kafka's ListOffsets reads
  // the timestamps -2 and -1 as the earliest and the latest offset (the latest stable one under
  // read_committed, like the consumer's own ends). The earliest offsets only matter where the
  // position is not known (nothing read yet, no checkpoint, no end reached): a member that has
  // read every partition makes one round, and otherwise the two go out together (one wait behind
  // the fetch, not two).
  auto query = [&](const std::vector<size_t>& which_partitions,
                   int64_t which) -> Result<std::vector<int64_t>> {
    RdKafkaPartitionListPtr list(
        rd_kafka_topic_partition_list_new(static_cast<int>(which_partitions.size())));
    for (size_t i : which_partitions) {
      const PartitionPosition& p = positions[i];
      rd_kafka_topic_partition_list_add(list.get(), NameOf(p.tp).c_str(), p.tp.partition.value())
          ->offset = which;
    }
    SC_RETURN_IF_ERROR(
        KafkaStatus(rd_kafka_offsets_for_times(rk_.get(), list.get(),
                                               static_cast<int>(options_.request_timeout.count())),
                    "cannot read the partitions' offsets from the cluster"));
    std::vector<int64_t> offsets;
    for (size_t i : which_partitions) {
      const PartitionPosition& p = positions[i];
      const rd_kafka_topic_partition_t* e = rd_kafka_topic_partition_list_find(
          list.get(), NameOf(p.tp).c_str(), p.tp.partition.value());
      const rd_kafka_resp_err_t err = e == nullptr ? RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION
                                      : e->err != RD_KAFKA_RESP_ERR_NO_ERROR ? e->err
                                      : e->offset < 0 ? RD_KAFKA_RESP_ERR__BAD_MSG
                                                      : RD_KAFKA_RESP_ERR_NO_ERROR;
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaStatus(err,
                           "cannot read the offsets of " + ToString(p.tp, options_.kafka.topics));
      }
      offsets.push_back(e->offset);
    }
    return offsets;
  };
  std::vector<size_t> all, unplaced;
  for (size_t i = 0; i < positions.size(); ++i) {
    all.push_back(i);
    const std::optional<EndReached>& reached = State(positions[i].tp).reached;
    if (!positions[i].next && !(reached && !reached->after)) unplaced.push_back(i);
  }
  // librdkafka's calls are thread-safe; the helper thread only reads `positions` and the names.
  std::optional<std::future<Result<std::vector<int64_t>>>> starts_future;
  if (!unplaced.empty()) {
    starts_future =
        std::async(std::launch::async, [&] { return query(unplaced, RD_KAFKA_OFFSET_BEGINNING); });
  }
  Result<std::vector<int64_t>> ends = query(all, RD_KAFKA_OFFSET_END);
  std::vector<int64_t> starts(positions.size(), -1);
  if (starts_future) {
    Result<std::vector<int64_t>> got = starts_future->get();
    if (!got.ok()) return got.status();
    for (size_t k = 0; k < unplaced.size(); ++k) starts[unplaced[k]] = (*got)[k];
  }
  if (!ends.ok()) return ends.status();
  for (size_t i = 0; i < positions.size(); ++i) {
    const PartitionPosition& p = positions[i];
    PartitionLag lag{p.tp, p.next, SourcePosition((*ends)[i]), std::nullopt};
    lag.records_behind = RecordsBehind(p.next, starts[i], (*ends)[i], State(p.tp).reached);
    out.push_back(lag);
  }
  unreachable_since_.reset();  // the cluster answered
  return out;
}

Status KafkaSource::PublishPositions() {
  if (closed_) return Status::Aborted("the Kafka source is closed");
  RdKafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(0));
  for (const PartitionPosition& p : Positions()) {
    if (!p.next) continue;
    rd_kafka_topic_partition_list_add(list.get(), NameOf(p.tp).c_str(), p.tp.partition.value())
        ->offset = p.next->value();
  }
  if (list->cnt == 0) return Status::OK();
  // Asynchronous: the result lands in CommitTrampoline during a later Poll.
  return KafkaStatus(rd_kafka_commit(rk_.get(), list.get(), 1),
                     "cannot publish positions to group " + options_.group_id);
}

Status KafkaSource::Close() {
  if (closed_ || rk_ == nullptr) return Status::OK();
  StopWaker();
  ReleaseBatch();
  closing_ = true;
  Status result;
  const ProcessingTime deadline = clock_->Now() + options_.close_timeout;
  // Leave the group first and serve the revocation like any other, from the consumer queue:
  // librdkafka can hang when an assignment is being handled while the consumer closes (upstream
  // issues 4041, 4527, 4884), and with nothing assigned the close below has nothing to revoke.
  if (rd_kafka_unsubscribe(rk_.get()) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    while (!Assignment().empty() && clock_->Now() < deadline) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 100)) {
        // Not returned to anyone: the next owner reads it.
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++counters_.stale_dropped;
        rd_kafka_message_destroy(m);
      }
    }
  }
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk_.get()));
  if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_.get(), queue.get())) {
    result =
        KafkaStatus(rd_kafka_error_code(e), "closing the Kafka consumer", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  } else {
    while (!rd_kafka_consumer_closed(rk_.get())) {
      if (clock_->Now() >= deadline) {
        result = Status::Timeout(
            "leaving consumer group " + options_.group_id + " did not finish within " +
            Seconds(options_.close_timeout) +
            "; the group hands this member's partitions on after its session timeout");
        break;
      }
      // With a rebalance callback configured, librdkafka serves the revocation through it; should
      // it come back as an event instead, handle it the same way.
      rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), 100);
      if (ev == nullptr) continue;
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
        OnRebalance(rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev));
      }
      rd_kafka_event_destroy(ev);
    }
  }
  // Whatever was not revoked through the group (close timed out, or never joined) is gone as well;
  // the owner cannot know whether another member already has it, so it counts as lost.
  std::vector<TopicPartition> left = Assignment();
  if (!left.empty()) {
    ++counters_.revocations;
    if (listener_ != nullptr) listener_->OnPartitionsRevoked(left, /*lost=*/true);
    for (const TopicPartition& tp : left) State(tp) = PartitionState{};
  }
  closed_ = true;
  return result;
}

}  // namespace smartcity
