// `berth cache ls|rm|prune`: the install cache as the daemon sees it.
#pragma once
#include <string>

#include "http/client.h"

namespace berth::cli {

int cmd_cache_ls(http::Client& client, bool json_out);
int cmd_cache_rm(http::Client& client, const std::string& key, bool force, bool json_out);
// `max_size`: "" for the daemon's [cache] max_size.
int cmd_cache_prune(http::Client& client, const std::string& max_size, bool all, bool json_out);

}  // namespace berth::cli
