// `berth nodes`: the cluster's nodes as the daemon asked sees them.
#pragma once
#include "http/client.h"

namespace berth::cli {

int cmd_nodes(http::Client& client, bool json_out);

}  // namespace berth::cli
