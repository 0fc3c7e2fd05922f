// One function per resource, each in its own file, registering that resource's routes.
#pragma once
#include "api/backend.h"
#include "api/sessions.h"
#include "http/router.h"

namespace berth::api {

void add_component_routes(http::Router& router, Backend& b);   // components.cpp
void add_deployment_routes(http::Router& router, Backend& b);  // deployments.cpp
void add_cache_routes(http::Router& router, Backend& b);       // cache.cpp
void add_reconcile_routes(http::Router& router, Backend& b);   // reconcile.cpp
void add_health_routes(http::Router& router, Backend& b);      // health.cpp (and shutdown)
void add_cluster_routes(http::Router& router, Backend& b);     // cluster.cpp (nodes, blobs)
void add_metrics_routes(http::Router& router, Backend& b);     // metrics.cpp (Prometheus)
void add_debug_routes(http::Router& router, Backend& b);       // debug.cpp (failpoints)
// dashboard.cpp: the page at /, its assets, sign-in (/v1/session) and its live stream
// (/v1/events).
void add_dashboard_routes(http::Router& router, Backend& b, Sessions& sessions);

}  // namespace berth::api
