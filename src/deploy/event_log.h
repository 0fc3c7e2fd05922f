// One deployment's event log: events get consecutive sequence numbers, are batched into the
// store (a 1,000,000-line install must not cost a million transactions) and are readable by
// followers without gaps while the deployment runs. Writing is best effort: a store failure
// is logged and never fails the deploy.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/state_event.h"
#include "store/deployment_repo.h"

namespace berth {

class DeploymentLog : public std::enable_shared_from_this<DeploymentLog> {
 public:
  // `last_seq`: events already stored for this deployment (a log reopened after a crash).
  DeploymentLog(boost::asio::any_io_executor ex, DeploymentRepo& repo, std::string id,
                int64_t last_seq = 0);
  ~DeploymentLog();

  // Appends an event; `data` must be a JSON object, stored with seq, ts and type added.
  // Returns its sequence number.
  int64_t append(const std::string& type, nlohmann::json data);
  // Writes the pending batch now.
  void flush();
  // Hands the pending batch to the caller (for the terminal transaction) and marks the log
  // ended: followers drain what is stored and stop.
  std::vector<EventRow> close();

  // Up to `limit` events with seq > after: first from the store, then the pending batch.
  std::vector<EventRow> after(int64_t after, size_t limit);
  int64_t last_seq() const { return seq_; }
  // Held by each live follower. Trimming the stored log waits for the last one to let go,
  // so a follower that lags behind the end still gets every event.
  std::shared_ptr<void> follow();
  // Runs `f` now if nobody follows, else when the last follower lets go.
  void when_unfollowed(std::function<void()> f);
  bool ended() const { return ended_; }
  StateEvent& changed() { return changed_; }

 private:
  DeploymentRepo& repo_;
  std::string id_;
  std::vector<EventRow> pending_;
  int64_t seq_ = 0, stored_ = 0;
  bool ended_ = false;
  int followers_ = 0;
  std::function<void()> on_unfollowed_;
  boost::asio::steady_timer timer_;
  StateEvent changed_;
};

}  // namespace berth
