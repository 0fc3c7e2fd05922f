// Precompiled header: the heavy, stable third-party headers most translation units use.
#pragma once
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <chrono>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>
