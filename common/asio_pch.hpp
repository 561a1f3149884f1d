// Precompiled header: standalone Asio is heavy, so every target that uses it compiles it once.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>
