#include "deploy/deploy_metrics.h"

namespace berth {

void DeployMetrics::on_end(const DeploymentRow& row) {
  ++ended_[std::string(to_string(row.status))];
  if (!row.ended_at) return;
  const double seconds = static_cast<double>(*row.ended_at - row.created_at) / 1000.0;
  sum_ += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++buckets_[i];
  ++buckets_.back();
}

}  // namespace berth
