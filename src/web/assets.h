// The dashboard's static files (src/web/assets/), embedded in the binary at build time by
// cmake/EmbedAssets.cmake, so the live view needs no internet, CDN or files next to the binary.
// Thread-safety: immutable data.
#pragma once

#include <span>
#include <string_view>

namespace smartcity::web {

struct Asset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view data;
};

std::span<const Asset> Assets();
// The asset served at `path`, or null.
const Asset* FindAsset(std::string_view path);

}  // namespace smartcity::web
