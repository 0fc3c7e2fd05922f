// What every component needs from the host, passed by reference (no globals).
#pragma once
#include <boost/asio/io_context.hpp>
#include <map>
#include <optional>
#include <string>

#include "config/daemon_config.h"
#include "proc/cgroup.h"
#include "proc/reaper.h"
#include "store/component_repo.h"
#include "store/lease_repo.h"
#include "store/tree_repo.h"
#include "watch/inotify_hub.h"

namespace berth {

struct HostContext {
  boost::asio::io_context& io;
  Reaper& reaper;
  const DaemonConfig& config;
  ComponentRepo& components;
  TreeRepo& trees;
  LeaseRepo& leases;
  InotifyHub& inotify;
  std::optional<CgroupBase> cgroup;  // nullopt: process groups only
  std::string tag;                   // distinguishes this home's names (notify sockets)
  // The base every component's environment starts from ([env] of the daemon's config).
  std::map<std::string, std::string> base_env;
};

}  // namespace berth
