// The dashboard's files (src/api/dashboard/), compiled into the binary by CMake
// (cmake/embed_assets.cmake), so the page needs no CDN, network or files on disk.
#pragma once
#include <string_view>

namespace berth::api {

struct Asset {
  std::string_view name;  // "index.html", "app.js", ...
  std::string_view content_type;
  std::string_view body;
};

// The asset of that name, or null.
const Asset* find_asset(std::string_view name);

}  // namespace berth::api
