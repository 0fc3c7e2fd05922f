// The deploy pipeline's counters for GET /metrics: deployments ended, by result, their
// durations (a histogram) and the install cache's hits and misses. Counted since the daemon
// started, as Prometheus counters are. Event-loop thread (an observer of every deployment).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "deploy/observer.h"

namespace berth {

class DeployMetrics final : public DeploymentObserver {
 public:
  // Upper bounds of the duration buckets, seconds (+Inf is implied).
  static constexpr std::array<double, 11> kBuckets = {0.1, 0.25, 0.5, 1,   2.5, 5,
                                                      10,  30,   60,  300, 900};

  void on_end(const DeploymentRow& row) override;
  void cache_outcome(bool hit) { ++(hit ? cache_hits_ : cache_misses_); }

  const std::map<std::string, uint64_t>& ended() const { return ended_; }  // result -> count
  // Cumulative counts per bucket (the last entry is +Inf), their sum and count.
  const std::array<uint64_t, kBuckets.size() + 1>& buckets() const { return buckets_; }
  double duration_sum() const { return sum_; }
  uint64_t cache_hits() const { return cache_hits_; }
  uint64_t cache_misses() const { return cache_misses_; }

 private:
  std::map<std::string, uint64_t> ended_;
  std::array<uint64_t, kBuckets.size() + 1> buckets_{};
  double sum_ = 0;
  uint64_t cache_hits_ = 0, cache_misses_ = 0;
};

}  // namespace berth
